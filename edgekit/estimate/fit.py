"""Fitting latency models and checking them by leave-one-architecture-out cross-validation.

Two shapes of model, chosen by how much a dataset holds:

* **per-kind** (at least ``PER_KIND_MIN`` architectures): latency = Σ c_k · x_k over the feature
  columns below (MACs, bytes, operator counts per kind), c_k ≥ 0, fitted by non-negative least
  squares on relative error (scipy.optimize.nnls on rows divided by their latency).
* **scaled** (fewer): the reference model (sd855, 1 thread, fp32: the seed's 27 architectures)
  predicts two groups of terms (GEMM work: dense convolutions and fc; everything else); the dataset
  fits one non-negative scale per group (at least ``GROUPS_MIN`` architectures) or one for all.
* **MACs + bytes** (int8 conditions with fewer than ``PER_KIND_MIN`` architectures): two
  non-negative coefficients on the whole model's MACs and bytes moved, int8 tensors counted at
  one byte. The reference's coefficients are those of fp32 kernels and scaled badly to int8.

Cross-validation refits without every row of one architecture at a time, the reference model
included, so no held-out figure ever reaches the fit that predicts it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Union

import numpy as np

from edgekit.estimate.data import MIN_ARCHITECTURES, Dataset, LatencyRow
from edgekit.estimate.features import INT8, ModelFeatures

PER_KIND_MIN = 12
GROUPS_MIN = 3
REFERENCE_CONDITION = ("sd855", 1, "fp32")

# Columns of the per-kind model. Bytes stand for the memory-bound kinds; MACs for the compute-bound
# ones; operator counts for the fixed cost of a kernel launch where kernels are many and small.
COLUMNS = (
    "conv_kxk.macs", "conv_1x1.macs", "dwconv.macs", "fc.bytes",
    "conv_1x1.bytes", "dwconv.bytes", "act.bytes", "se.bytes", "movement.bytes", "elementwise.bytes", "pool.bytes",
    "conv_1x1.ops", "dwconv.ops", "se.ops", "movement.ops", "act.ops",
)
# Dense convolutions and fc run as GEMMs, whose speed changes most with the CPU and with int8
# (ARMv8.2 dot-product instructions); depthwise convolutions, memory traffic and kernel launches
# change least. The scaled model gives each group its own scale.
GEMM_COLUMNS = frozenset({"conv_kxk.macs", "conv_1x1.macs", "fc.bytes"})

FeatureLookup = Callable[[str, str], ModelFeatures]  # (model, precision) → features


class NotEnoughData(Exception):
    """A dataset too small to fit on (the caller turns it into a message)."""


def _column(features: ModelFeatures, column: str, *, int8: bool) -> float:
    kind, quantity = column.split(".")
    return features.get(f"{kind}_int8.{quantity}") if int8 else features.get(column)


def design_row(features: ModelFeatures) -> np.ndarray:
    """A model's per-kind columns; int8 operators count in the column of their fp32 kind."""
    return np.array([_column(features, c, int8=False) + _column(features, c, int8=True) for c in COLUMNS])


def _nnls_relative(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    scale = X.max(axis=0)
    scale[scale == 0] = 1.0
    weights = 1.0 / y  # minimise relative, not absolute, error: small models count as much as large
    solution, _ = nnls((X / scale) * weights[:, None], y * weights)
    return solution / scale


@dataclasses.dataclass(frozen=True)
class PerKindModel:
    coefficients: np.ndarray  # per COLUMNS, ms per unit

    def predict(self, features: ModelFeatures) -> float:
        return float(design_row(features) @ self.coefficients)

    def group_terms(self, features: ModelFeatures) -> dict[str, float]:
        """The prediction split into fp32 GEMM work, int8 GEMM work and the rest."""
        terms = {"gemm_fp32": 0.0, "gemm_int8": 0.0, "rest": 0.0}
        for c, coef in zip(COLUMNS, self.coefficients):
            for int8 in (False, True):
                value = _column(features, c, int8=int8) * coef
                group = ("gemm_int8" if int8 else "gemm_fp32") if c in GEMM_COLUMNS else "rest"
                terms[group] += value
        return terms

    def describe(self) -> dict:
        return {"kind": "per-kind", "coefficients": {c: float(v) for c, v in zip(COLUMNS, self.coefficients) if v > 0}}


@dataclasses.dataclass(frozen=True)
class ScaledModel:
    reference: PerKindModel
    groups: tuple[tuple[str, ...], ...]  # groups of terms sharing one scale
    scales: np.ndarray

    def _terms(self, features: ModelFeatures) -> np.ndarray:
        terms = self.reference.group_terms(features)
        return np.array([sum(terms[t] for t in group) for group in self.groups])

    def predict(self, features: ModelFeatures) -> float:
        return float(self._terms(features) @ self.scales)

    def describe(self) -> dict:
        return {"kind": "scaled from sd855 1-thread fp32",
                "scales": {"+".join(g): float(s) for g, s in zip(self.groups, self.scales)}}


LatencyModel = Union[PerKindModel, "ScaledModel", "LinearModel"]


def fit_per_kind(rows: list[LatencyRow], lookup: FeatureLookup) -> PerKindModel:
    X = np.array([design_row(lookup(r.model, r.precision)) for r in rows])
    y = np.array([r.latency_ms for r in rows])
    return PerKindModel(_nnls_relative(X, y))


def fit_dataset(dataset: Dataset, reference: Dataset, lookup: FeatureLookup,
                holdout: Optional[str] = None) -> LatencyModel:
    """The model of ``dataset`` without architecture ``holdout`` (in the reference too)."""
    published = len(dataset.architectures)
    if published < MIN_ARCHITECTURES:
        raise NotEnoughData(f"{dataset.describe()}: {published} architecture{'s' if published != 1 else ''} "
                            f"with a figure; at least {MIN_ARCHITECTURES} needed")
    data = dataset.without(holdout)
    n = len(data.architectures)
    if n < 2:  # a held-out fold of a small dataset still needs two architectures to scale on
        raise NotEnoughData(f"{dataset.describe()}: {n} architecture left after holding out {holdout}")
    rows = list(data.rows)
    if n >= PER_KIND_MIN:
        return fit_per_kind(rows, lookup)
    ref_rows = list(reference.without(holdout).rows)
    if len({r.architecture for r in ref_rows}) < PER_KIND_MIN:
        raise NotEnoughData(f"the reference condition {reference.describe()} has too few architectures")
    base = fit_per_kind(ref_rows, lookup)
    if data.precision == INT8:
        # The reference's coefficients are fp32 kernels' and say nothing of int8 ones; scaling them
        # (one scale, or GEMM and the rest apart) left half the held-out int8 figures beyond ±20%,
        # MACs and bytes moved (int8 tensors at 1 byte) fitted directly beyond ±10% (RESULTS.md).
        return fit_linear(rows, lookup, _flops_memory, "MACs + bytes moved (int8-aware)")
    if n >= GROUPS_MIN:
        groups: tuple[tuple[str, ...], ...] = (("gemm_fp32", "gemm_int8"), ("rest",))
    else:
        groups = (("gemm_fp32", "gemm_int8", "rest"),)
    model = ScaledModel(base, groups, np.ones(len(groups)))
    T = np.array([model._terms(lookup(r.model, r.precision)) for r in rows])
    y = np.array([r.latency_ms for r in rows])
    return dataclasses.replace(model, scales=_nnls_relative(T, y))


@dataclasses.dataclass(frozen=True)
class CrossValidation:
    """Leave-one-architecture-out errors of one dataset (relative: predicted / measured - 1)."""

    errors: dict[str, float]  # architecture → relative error when held out
    predictions: dict[str, tuple[float, float]]  # architecture → (predicted, measured) ms

    @property
    def count(self) -> int:
        return len(self.errors)

    @property
    def within_10pct(self) -> float:
        return float(np.mean([abs(e) <= 0.10 for e in self.errors.values()])) if self.errors else float("nan")

    @property
    def median_abs(self) -> float:
        return float(np.median(np.abs(list(self.errors.values())))) if self.errors else float("nan")

    @property
    def worst_abs(self) -> float:
        return float(np.max(np.abs(list(self.errors.values())))) if self.errors else float("nan")

    @property
    def interval(self) -> float:
        """Relative half-width of an estimate's interval: the 90th percentile of held-out errors
        (the worst one when fewer than 10 architectures were held out)."""
        abs_errors = np.abs(list(self.errors.values()))
        if len(abs_errors) < 10:
            return float(abs_errors.max())
        return float(np.percentile(abs_errors, 90))

    def to_dict(self) -> dict:
        return {"architectures": self.count, "within_10pct": round(self.within_10pct, 3),
                "median_abs_error": round(self.median_abs, 4), "worst_abs_error": round(self.worst_abs, 4),
                "interval_rel": round(self.interval, 4),
                "errors": {k: round(v, 4) for k, v in sorted(self.errors.items())}}


def cross_validate(dataset: Dataset, reference: Dataset, lookup: FeatureLookup,
                   fitter: Optional[Callable[..., LatencyModel]] = None) -> CrossValidation:
    """Hold out each architecture in turn, refit, predict it."""
    fitter = fitter or fit_dataset
    errors, predictions = {}, {}
    for row in dataset.rows:
        model = fitter(dataset, reference, lookup, holdout=row.architecture)
        predicted = model.predict(lookup(row.model, row.precision))
        errors[row.architecture] = predicted / row.latency_ms - 1.0
        predictions[row.architecture] = (predicted, row.latency_ms)
    return CrossValidation(errors, predictions)


# --------------------------------------------------------------------------------- baselines


@dataclasses.dataclass(frozen=True)
class LinearModel:
    """latency = Σ c_i · column_i(features), for a few whole-model columns."""

    coefficients: np.ndarray
    columns: Callable[[ModelFeatures], np.ndarray]
    name: str

    def predict(self, features: ModelFeatures) -> float:
        return float(self.columns(features) @ self.coefficients)

    def describe(self) -> dict:
        return {"kind": self.name, "coefficients": [float(c) for c in self.coefficients]}


def fit_linear(rows: list[LatencyRow], lookup: FeatureLookup, columns: Callable[[ModelFeatures], np.ndarray],
               name: str) -> LinearModel:
    X = np.array([columns(lookup(r.model, r.precision)) for r in rows])
    y = np.array([r.latency_ms for r in rows])
    return LinearModel(_nnls_relative(X, y), columns, name)


def _flops(features: ModelFeatures) -> np.ndarray:
    return np.array([features.macs])


def _flops_memory(features: ModelFeatures) -> np.ndarray:
    return np.array([features.macs, features.activation_bytes + features.weight_bytes])


def baseline_fitter(columns: Callable[[ModelFeatures], np.ndarray], name: str) -> Callable[..., LinearModel]:
    """A fitter of latency ∝ FLOPs (``_flops``) or FLOPs + memory (``_flops_memory``), for comparison."""
    def fit(dataset: Dataset, reference: Dataset, lookup: FeatureLookup, holdout: Optional[str] = None):
        return fit_linear(list(dataset.without(holdout).rows), lookup, columns, name)
    return fit


BASELINES = {"flops": baseline_fitter(_flops, "FLOPs"), "flops+memory": baseline_fitter(_flops_memory, "FLOPs + memory")}
