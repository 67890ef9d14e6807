"""Latency figures to fit on: published tables (``edgekit/data/latency/*.csv`` and the seed) and
runs measured here on phones (the results store), grouped into datasets of one condition.

A dataset is one (device profile, threads, precision) on arm64-v8a. Published tables disagree
with each other by a few percent (tool versions, phones, power modes), so a dataset takes one
published source, the best ranked that covers enough architectures, never a mix; runs measured
on a phone here then replace (or add) the rows of the models they measured.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from importlib import resources
from typing import Iterable, Optional

from edgekit import reference
from edgekit.estimate.features import FP32, INT8

ABI = "arm64-v8a"
LATENCY_DATA = "latency"
FEATURES_FILE = "zoo_features.csv"
SSLD_SUFFIX = "_ssld"
MEASURED = "measured here"
SEED = "paddleclas-seed-table"
# The seed's figures came from PaddleClas's benchmark.sh with its benchmark_bin_v8 of Paddle Lite v2.6's time.
SEED_ERA = "Paddle Lite v2.6 era"
SEED_URL = ("https://github.com/PaddlePaddle/PaddleClas/blob/49dcb5ca93a8ee85c154c0420881550a5e8cab99/"
            "docs/en/models/Mobile_en.md")
# Ranking of published sources (lower is preferred): the seed is what edgekit reproduces;
# PaddleClas's per-family pages measured the same models again at 1/2/4 threads; PaddleSlim's
# table is a measured column; Paddle Lite's pages cover few models, newest release first.
SOURCE_RANK = {SEED: 1, "paddleclas-model-doc": 2, "paddleslim-latency-predictor-doc": 3, "paddle-lite-benchmark-doc": 4}
SHORT_SOURCE_NAMES = {SEED: "seed table", "paddleclas-model-doc": "PaddleClas docs",
                      "paddleslim-latency-predictor-doc": "PaddleSlim docs", MEASURED: MEASURED}
# Fewest architectures a dataset needs before anything is estimated from it.
MIN_ARCHITECTURES = 3


@dataclasses.dataclass(frozen=True)
class LatencyRow:
    """One latency figure: a model on a profile at some threads and precision."""

    profile: str
    threads: int
    precision: str
    model: str  # edgekit's zoo name (fp32 name; ``precision`` says int8)
    latency_ms: float
    source: str
    source_version: str
    source_url: str
    published_name: str = ""
    soc: str = ""
    note: str = ""

    @property
    def architecture(self) -> str:
        return architecture(self.model)

    @property
    def measured(self) -> bool:
        return self.source == MEASURED

    def describe_source(self) -> str:
        """A short label naming the table and its era: 'seed table, Paddle Lite v2.6 era',
        'Paddle Lite release/v2.11 table', 'measured here (Paddle Lite v2.13)'. Tables of different
        Paddle Lite releases differ by tens of percent (int8 most), so a figure never goes without it."""
        if self.source == "paddle-lite-benchmark-doc":
            return f"Paddle Lite {self.source_version.split(' ')[0]} table"
        if self.source == SEED:
            return f"seed table, {SEED_ERA}"
        if self.source == MEASURED:
            return f"{MEASURED} (Paddle Lite {self.source_version})" if self.source_version else MEASURED
        commit = _commit_of(self.source_url)
        name = SHORT_SOURCE_NAMES.get(self.source, self.source)
        return f"{name} ({commit})" if commit and commit not in name else name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _commit_of(url: str) -> str:
    """The short commit of a GitHub ``/blob/<commit>/`` address ('' when there is none)."""
    parts = url.split("/blob/", 1)
    commit = parts[1].split("/", 1)[0] if len(parts) == 2 else ""
    return commit[:7] if len(commit) >= 7 and all(c in "0123456789abcdef" for c in commit) else ""


def architecture(name: str) -> str:
    """The architecture a model name stands for: ``_int8`` and ``_ssld`` (another weight set of
    the same network) removed. Leave-one-architecture-out holds out all its names together."""
    base = reference.split_int8(name)[0]
    return base[: -len(SSLD_SUFFIX)] if base.endswith(SSLD_SUFFIX) else base


def _seed_rows() -> list[LatencyRow]:
    rows = []
    for model in reference.reference_models():
        if model.sd855_ms is None:
            continue
        base, is_int8 = reference.split_int8(model.name)
        rows.append(LatencyRow(profile="sd855", threads=1, precision=INT8 if is_int8 else FP32, model=base,
                               latency_ms=model.sd855_ms, source=SEED, source_version="PaddleClas Mobile_en.md (49dcb5c)",
                               source_url=SEED_URL, published_name=model.name, soc="Snapdragon 855",
                               note=f"benchmark.sh of PaddleClas (benchmark_bin_v8, {SEED_ERA}), 1 thread"))
    return rows


@functools.lru_cache(maxsize=1)
def published_rows() -> tuple[LatencyRow, ...]:
    """Every published arm64-v8a figure of a zoo architecture, excluded ones left out."""
    rows = _seed_rows()
    folder = resources.files("edgekit.data").joinpath(LATENCY_DATA)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".csv") or entry.name == FEATURES_FILE:
            continue
        with entry.open(newline="") as f:
            for raw in csv.DictReader(f):
                if raw["abi"] != ABI or not raw["model"] or raw.get("exclude"):
                    continue
                rows.append(LatencyRow(profile=raw["profile"], threads=int(raw["threads"]), precision=raw["precision"],
                                       model=raw["model"], latency_ms=float(raw["latency_ms"]), source=raw["source"],
                                       source_version=raw["source_version"], source_url=raw["source_url"],
                                       published_name=raw["published_name"], soc=raw["soc"], note=raw["note"]))
    return tuple(rows)


def excluded_rows() -> list[dict]:
    """Published rows that are transcribed but not used, with the reason."""
    out = []
    folder = resources.files("edgekit.data").joinpath(LATENCY_DATA)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".csv") and entry.name != FEATURES_FILE:
            with entry.open(newline="") as f:
                out += [dict(r, file=entry.name) for r in csv.DictReader(f) if r.get("exclude")]
    return out


def measured_rows(records: Iterable) -> list[LatencyRow]:
    """Phone runs of the results store (``BenchRecord``s) as rows: successful, not on a virtual
    device, at the seed's input size; the latest run per (model, profile, threads, precision)."""
    latest: dict[tuple, LatencyRow] = {}
    for record in records:
        # Only a phone's latency is a profile's; the results store says which records are phones.
        phone = record.is_phone if hasattr(record, "is_phone") else not record.virtual
        if not record.ok or not phone or not record.profile or not record.latency:
            continue
        settings = record.settings or {}
        # no input shape: a `results import` of benchmark.sh's result file, which runs 1,3,224,224
        if str(settings.get("input_shape") or "1,3,224,224").replace(" ", "") != "1,3,224,224":
            continue
        if record.device.get("abi") not in (None, "", ABI) or record.target not in (None, "arm"):
            continue
        avg = record.latency.get("avg_ms")
        if avg is None:
            continue
        base, is_int8 = reference.split_int8(record.model)
        precision = INT8 if (is_int8 or record.precision == INT8) else FP32
        threads = int(settings.get("threads", 1))
        row = LatencyRow(profile=record.profile, threads=threads, precision=precision, model=base,
                         latency_ms=float(avg), source=MEASURED, source_version=record.tool.get("version", "") or "",
                         source_url=f"results store run {record.run_id}", published_name=record.model,
                         soc=record.device.get("soc", "") or "", note=f"device {record.device.get('model', '')}".strip())
        latest[(record.profile, threads, precision, base)] = row
    return list(latest.values())


def _source_key(row: LatencyRow) -> tuple:
    return (row.source, row.source_version)


def _version_order(rows: list[LatencyRow]) -> dict[tuple, int]:
    """Newest Paddle Lite release first: versions sort by their text (release/v2.11 > v2.10 > ...)."""
    def numeric(version: str) -> tuple:
        digits = version.split("v")[-1].split(" ")[0].replace("release/", "")
        return tuple(int(p) for p in digits.split(".") if p.isdigit())

    keys = sorted({_source_key(r) for r in rows}, key=lambda k: (SOURCE_RANK.get(k[0], 9), tuple(-n for n in numeric(k[1]))))
    return {k: i for i, k in enumerate(keys)}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The rows one latency model is fitted on: one condition, one row per architecture."""

    profile: str
    threads: int
    precision: str
    rows: tuple[LatencyRow, ...]
    published_source: Optional[tuple[str, str]]  # (source, version) of the published rows used
    other_published: tuple[LatencyRow, ...]  # rows of the condition from other sources (not fitted)

    @property
    def architectures(self) -> list[str]:
        return sorted({r.architecture for r in self.rows})

    @property
    def measured(self) -> list[LatencyRow]:
        return [r for r in self.rows if r.measured]

    def without(self, arch: Optional[str]) -> "Dataset":
        if arch is None:
            return self
        return dataclasses.replace(self, rows=tuple(r for r in self.rows if r.architecture != arch))

    def describe(self) -> str:
        return f"{self.profile}, {self.threads} thread{'s' if self.threads > 1 else ''}, {self.precision}"


def build_dataset(profile: str, threads: int, precision: str, *, measured: Iterable[LatencyRow] = (),
                  published: Optional[Iterable[LatencyRow]] = None) -> Dataset:
    """The dataset of one condition: the best-ranked published source with at least
    MIN_ARCHITECTURES architectures (else the one with most), one row per architecture (the base
    name before ``_ssld``), then the rows measured here replacing the published ones."""
    candidates = [r for r in (published_rows() if published is None else published)
                  if (r.profile, r.threads, r.precision) == (profile, threads, precision)]
    order = _version_order(candidates)
    by_source: dict[tuple, dict[str, LatencyRow]] = {}
    for row in candidates:
        chosen = by_source.setdefault(_source_key(row), {})
        # One row per architecture; the base weights' name is preferred (same network anyway).
        if row.architecture not in chosen or row.model == row.architecture:
            chosen[row.architecture] = row
    enough = [k for k in sorted(by_source, key=order.get) if len(by_source[k]) >= MIN_ARCHITECTURES]
    source = enough[0] if enough else max(by_source, key=lambda k: (len(by_source[k]), -order[k]), default=None)
    rows = dict(by_source.get(source, {})) if source else {}
    for row in measured:
        if (row.profile, row.threads, row.precision) == (profile, threads, precision):
            rows[row.architecture] = row
    others = tuple(r for r in candidates if _source_key(r) != source)
    return Dataset(profile=profile, threads=threads, precision=precision,
                   rows=tuple(sorted(rows.values(), key=lambda r: r.architecture)),
                   published_source=source, other_published=others)


def conditions(rows: Optional[Iterable[LatencyRow]] = None) -> list[tuple[str, int, str]]:
    """Every (profile, threads, precision) some row covers."""
    rows = published_rows() if rows is None else rows
    return sorted({(r.profile, r.threads, r.precision) for r in rows})


def published_figure(model: str, profile: str, threads: int, precision: str) -> Optional[LatencyRow]:
    """The best-ranked published figure of exactly this model and condition, if any."""
    base = reference.split_int8(model)[0]
    # _ssld weights run the same network as their base: the base's figure is theirs too.
    matches = [r for r in published_rows() if (r.profile, r.threads, r.precision) == (profile, threads, precision)
               and r.architecture == architecture(model)]
    if not matches:
        return None
    order = _version_order(matches)
    return min(matches, key=lambda r: (order[_source_key(r)], r.model != base))
