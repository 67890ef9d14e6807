"""The PaddleClas mobile-model table edgekit reproduces: reference values per model.

The figures live in ``edgekit/data/paddleclas_mobile_reference.csv``, transcribed from PaddleClas's
documentation of its 32 mobile models (accuracy, FLOPs, parameters, Snapdragon 855 latency and
storage, T4 GPU times). This module only reads that file; it imports nothing heavy.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
from importlib import resources
from typing import Optional

from edgekit.errors import UnknownModelError

_TABLE = "paddleclas_mobile_reference.csv"

INT8_SUFFIX = "_int8"


def split_int8(name: str) -> tuple[str, bool]:
    """``("MobileNetV1", True)`` for the quantization artifact ``MobileNetV1_int8``; ``(name, False)``
    for any other name. The one place that knows how int8 artifacts are named."""
    if name.endswith(INT8_SUFFIX) and len(name) > len(INT8_SUFFIX):
        return name[: -len(INT8_SUFFIX)], True
    return name, False


def int8_name(name: str) -> str:
    """The name of ``name``'s quantization artifact (``name`` itself when it already is one)."""
    return name if split_int8(name)[1] else name + INT8_SUFFIX


@dataclasses.dataclass(frozen=True)
class ReferenceModel:
    """One row of the seed table; None where the table has no value."""

    name: str
    family: str
    top1: Optional[float]
    top5: Optional[float]
    ref_top1: Optional[float]
    ref_top5: Optional[float]
    flops_g: Optional[float]
    params_m: Optional[float]
    sd855_ms: Optional[float]
    storage_mb: Optional[float]
    t4_fp16_bs1_ms: Optional[float]
    t4_fp16_bs4_ms: Optional[float]
    t4_fp16_bs8_ms: Optional[float]
    t4_fp32_bs1_ms: Optional[float]
    t4_fp32_bs4_ms: Optional[float]
    t4_fp32_bs8_ms: Optional[float]

    @property
    def is_int8(self) -> bool:
        """True for quantization artifacts (``..._int8``), which are built, not defined."""
        return split_int8(self.name)[1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


NUMERIC_COLUMNS = tuple(f.name for f in dataclasses.fields(ReferenceModel) if f.name not in ("name", "family"))


def _number(text: str) -> Optional[float]:
    return float(text) if text.strip() else None


@functools.lru_cache(maxsize=1)
def reference_models() -> tuple[ReferenceModel, ...]:
    """All rows, in the order of the PaddleClas table."""
    with resources.files("edgekit.data").joinpath(_TABLE).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return tuple(
        ReferenceModel(name=r["name"], family=r["family"], **{c: _number(r[c]) for c in NUMERIC_COLUMNS})
        for r in rows
    )


def reference_names() -> list[str]:
    return [m.name for m in reference_models()]


def find_reference(name: str) -> Optional[ReferenceModel]:
    """The row for ``name``, or None when the table has no such model."""
    for model in reference_models():
        if model.name == name:
            return model
    return None


def closest_names(name: str, candidates: list[str], limit: int = 3) -> list[str]:
    """Names that look like ``name``, best first (for 'did you mean' messages)."""
    lowered = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)
    return [lowered[m] for m in matches]


def get_reference(name: str) -> ReferenceModel:
    """The row for ``name``; UnknownModelError naming the closest matches otherwise."""
    model = find_reference(name)
    if model is None:
        raise UnknownModelError(name, closest_names(name, reference_names()))
    return model


def families() -> list[str]:
    return sorted({m.family for m in reference_models()})
