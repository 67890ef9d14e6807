"""Reports of benchmark results beside PaddleClas's published table (the seed).

One row per latest successful run of each (model, device, settings): measured average latency and
exact ``.nb`` storage next to the seed's Snapdragon 855 latency and storage, with the difference in
percent. Writers: Markdown (like the seed's table), CSV, JSON, and PNG plots like the seed's
figures (Top-1 against latency and against storage, one marker per family).

Storage is the exact ``.nb`` size, shown in MiB and in MB (10^6 bytes). The seed's "Storage
Size(M)" reads as MB for some rows and as MiB for others (benchmarks/RESULTS.md, "Storage"), so the
storage delta uses whichever reading is closer to the seed's figure and says which.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Iterable, Optional, Sequence

from edgekit import reference
from edgekit.bench.results import BenchRecord, ResultStore, latest_per_run_kind
from edgekit.errors import UsageError
from edgekit.workspace import Workspace, atomic_write_bytes

FORMATS = ("md", "csv", "json")
SEED_INPUT_SHAPE = "1,3,224,224"
MIB = 1 << 20
OTHER_FAMILY = "other"
PLOT_FILES = {"latency": "top1_vs_latency.png", "storage": "top1_vs_storage.png"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclasses.dataclass(frozen=True)
class ReportRow:
    model: str
    family: str
    precision: str
    device: Optional[str]  # profile name
    serial: Optional[str]
    virtual: bool  # True: measured on edgekit's virtual device, i.e. host latency
    threads: Optional[int]
    warmup: Optional[int]
    repeats: Optional[int]
    power_mode: Optional[int]
    input_shape: Optional[str]
    latency_ms: float
    latency_min_ms: Optional[float]
    latency_max_ms: Optional[float]
    storage_bytes: Optional[int]
    storage_mib: Optional[float]
    storage_mb: Optional[float]  # 10^6 bytes
    seed_latency_ms: Optional[float]
    seed_storage_mb: Optional[float]
    latency_delta_pct: Optional[float]
    storage_delta_pct: Optional[float]
    storage_delta_unit: Optional[str]  # "MB" or "MiB": the reading of the seed's "M" the delta uses
    top1: Optional[float]
    source: str
    run_id: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Report:
    rows: tuple[ReportRow, ...]
    plots: tuple[Path, ...] = ()
    profile: Optional[str] = None  # the --device filter, for saying what is missing

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows], "plots": [str(p) for p in self.plots]}


def build_rows(records: Iterable[BenchRecord], *, profile: Optional[str] = None) -> list[ReportRow]:
    """Rows for the latest successful run per (model, device, settings), seed table order first."""
    rows = [_row(r) for r in latest_per_run_kind(records, profile=profile)]
    order = {name: i for i, name in enumerate(reference.reference_names())}
    return sorted(rows, key=lambda r: (order.get(r.model, len(order)), r.model, r.device or "",
                                       r.serial or "", r.threads or 0))


def make_report(workspace: Workspace, *, profile: Optional[str] = None,
                plots_dir: Optional[Path] = None) -> Report:
    """The report of the workspace's results store (and its plots when ``plots_dir`` is given).
    ``profile`` must be a device profile of devices.yaml (ConfigError naming the known ones)."""
    if profile is not None:
        from edgekit.device.profiles import load_profile

        load_profile(profile)
    rows = build_rows(ResultStore.for_workspace(workspace).records(), profile=profile)
    plots = write_plots(rows, plots_dir) if plots_dir is not None else []
    return Report(tuple(rows), tuple(plots), profile)


def render(report: Report, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(report.rows, profile=report.profile)
    if fmt == "csv":
        return render_csv(report.rows)
    if fmt == "json":
        import json

        return json.dumps(report.to_dict(), indent=2)
    raise UsageError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")


# ------------------------------------------------------------------------------------ rows


def _row(record: BenchRecord) -> ReportRow:
    ref = reference.find_reference(record.model)
    # an int8 artifact the table lacks still belongs to its base model's family
    base, is_int8 = reference.split_int8(record.model)
    family_ref = ref or (reference.find_reference(base) if is_int8 else None)
    latency = record.latency or {}
    nb_bytes = (record.nb or {}).get("bytes")
    storage_mib = nb_bytes / MIB if nb_bytes is not None else None
    storage_mb = nb_bytes / 1e6 if nb_bytes is not None else None
    seed_latency = ref.sd855_ms if ref else None
    seed_storage = ref.storage_mb if ref else None
    settings = record.settings
    return ReportRow(
        model=record.model,
        family=family_ref.family if family_ref else OTHER_FAMILY,
        precision=record.precision,
        device=record.profile,
        serial=record.device.get("serial"),
        virtual=record.virtual,
        threads=settings.get("threads"),
        warmup=settings.get("warmup"),
        repeats=settings.get("repeats"),
        power_mode=settings.get("power_mode"),
        input_shape=settings.get("input_shape"),
        latency_ms=latency["avg_ms"],
        latency_min_ms=latency.get("min_ms"),
        latency_max_ms=latency.get("max_ms"),
        storage_bytes=nb_bytes,
        storage_mib=storage_mib,
        storage_mb=storage_mb,
        seed_latency_ms=seed_latency,
        seed_storage_mb=seed_storage,
        latency_delta_pct=_delta_pct(latency["avg_ms"], seed_latency) if _seed_conditions(settings) else None,
        **_storage_delta(nb_bytes, seed_storage),
        top1=ref.top1 if ref else None,
        source=record.source,
        run_id=record.run_id,
    )


def _seed_conditions(settings: dict) -> bool:
    """Whether a run's latency compares with the seed's: 1 thread, one 1x3x224x224 image
    (settings a file did not state are given the benefit of the doubt)."""
    return settings.get("threads") in (1, None) and settings.get("input_shape") in (SEED_INPUT_SHAPE, None)


def _storage_delta(nb_bytes: Optional[int], seed_mb: Optional[float]) -> dict:
    """Delta against the seed's "M" read as MB or as MiB, whichever is closer."""
    if nb_bytes is None or not seed_mb:
        return {"storage_delta_pct": None, "storage_delta_unit": None}
    readings = {"MB": _delta_pct(nb_bytes / 1e6, seed_mb), "MiB": _delta_pct(nb_bytes / MIB, seed_mb)}
    unit = min(readings, key=lambda u: abs(readings[u]))
    return {"storage_delta_pct": readings[unit], "storage_delta_unit": unit}


def _delta_pct(measured: Optional[float], seed: Optional[float]) -> Optional[float]:
    if measured is None or not seed:
        return None
    return (measured - seed) / seed * 100.0


# --------------------------------------------------------------------------------- writers


MD_HEADERS = ("Model", "Device", "Threads", "Latency (ms)", "Storage (MiB)", "SD855 latency (ms)",
              "SD855 storage (M)", "Δ latency", "Δ storage")


def render_markdown(rows: Sequence[ReportRow], *, profile: Optional[str] = None) -> str:
    """A Markdown table like the seed's "Inference speed and storage size based on SD855"."""
    if not rows and profile is not None:
        return (f"No benchmark results for device profile {profile} (run `edgekit bench --device {profile}` "
                f"or `edgekit results import --device {profile}`).")
    if not rows:
        return "No benchmark results yet (run `edgekit bench` or `edgekit results import`)."
    lines = ["| " + " | ".join(MD_HEADERS) + " |", "|" + "|".join([":--"] * 2 + ["--:"] * 7) + "|"]
    for row in rows:
        device = (row.device or "?") + (" †" if row.virtual else "")
        cells = [row.model, device, _fmt(row.threads), _fmt(row.latency_ms, 3), _fmt(row.storage_mib, 2),
                 _fmt(row.seed_latency_ms, 3), _fmt(row.seed_storage_mb, 1),
                 _fmt_pct(row.latency_delta_pct), _fmt_storage_delta(row)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ["", "Latency: average of the measured runs; Δ latency only under the seed's conditions (1 thread, "
             "input 1x3x224x224). Storage: exact `.nb` size; the seed's \"M\" is MB (10^6 bytes) in some rows "
             "and MiB in others, so Δ storage uses the closer reading and names it."]
    if any(row.virtual for row in rows):
        notes.append("† edgekit's virtual device: the latency is the host's (x86 `.nb`), not a phone's.")
    return "\n".join(lines + notes)


def render_csv(rows: Sequence[ReportRow]) -> str:
    out = io.StringIO()
    fields = [f.name for f in dataclasses.fields(ReportRow)]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.to_dict())
    return out.getvalue()


def _fmt(value, digits: Optional[int] = None) -> str:
    if value is None:
        return "-"
    if digits is not None:
        return f"{value:.{digits}f}"
    return str(value)


def _fmt_pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _fmt_storage_delta(row: ReportRow) -> str:
    if row.storage_delta_pct is None:
        return "-"
    return f"{_fmt_pct(row.storage_delta_pct)} ({row.storage_delta_unit})"


# ----------------------------------------------------------------------------------- plots


def write_plots(rows: Sequence[ReportRow], folder: Path) -> list[Path]:
    """Top-1 vs latency and Top-1 vs storage PNGs in ``folder`` (written atomically)."""
    folder = Path(folder)
    written = []
    for axis, filename in PLOT_FILES.items():
        png = _plot_png(rows, axis)
        path = folder / filename
        atomic_write_bytes(path, png)
        written.append(path)
    return written


def _plot_png(rows: Sequence[ReportRow], axis: str) -> bytes:
    # A bare Figure on the Agg canvas: no pyplot, so the caller's backend choice is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 6), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    markers = _family_markers(rows)
    colors = {family: f"C{i}" for i, family in enumerate(markers)}
    _plot_seed(ax, rows, axis, markers, colors)
    _plot_measured(ax, rows, axis, markers, colors)
    measured_label = "latency (ms)" if axis == "latency" else "storage (MiB)"
    ax.set_xlabel(f"{measured_label}, batch 1")
    ax.set_ylabel("ImageNet Top-1 (PaddleClas)")
    devices = sorted({r.device or "?" for r in rows})
    title = f"Top-1 vs {axis}: measured on {', '.join(devices) or 'no device'} (filled), seed SD855 (hollow)"
    if any(r.virtual for r in rows):
        title += "\nvirtual device: host latency, not a phone's"
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if markers:
        ax.legend(fontsize=8, loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _family_markers(rows: Sequence[ReportRow]) -> dict[str, str]:
    families = sorted({r.family for r in rows if r.top1 is not None})
    return {family: _MARKERS[i % len(_MARKERS)] for i, family in enumerate(families)}


def _measured_x(row: ReportRow, axis: str) -> Optional[float]:
    return row.latency_ms if axis == "latency" else row.storage_mib


def _seed_x(row: ReportRow, axis: str) -> Optional[float]:
    return row.seed_latency_ms if axis == "latency" else row.seed_storage_mb


def _plot_measured(ax, rows, axis, markers, colors) -> None:
    for family, marker in markers.items():
        points = [(x, r.top1, r.model) for r in rows if r.family == family
                  and r.top1 is not None and (x := _measured_x(r, axis)) is not None]
        if not points:
            continue
        xs, ys, names = zip(*points)
        ax.scatter(xs, ys, marker=marker, color=colors[family], label=family, zorder=3)
        for x, y, name in points:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=6)


def _plot_seed(ax, rows, axis, markers, colors) -> None:
    seen = set()
    for row in rows:
        x = _seed_x(row, axis)
        if row.top1 is None or x is None or row.model in seen or row.family not in markers:
            continue
        seen.add(row.model)
        ax.scatter([x], [row.top1], marker=markers[row.family], facecolors="none",
                   edgecolors=colors[row.family], alpha=0.6, zorder=2)
