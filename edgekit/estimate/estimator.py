"""``estimate_latency``: a model's latency on a device profile before the phone, with an interval
from the profile's cross-validated error and what the figure was fitted on."""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Optional, Union

from edgekit import reference as seed
from edgekit.errors import UnknownModelError, UsageError
from edgekit.estimate import data, fit
from edgekit.estimate.features import FP32, ModelFeatures, model_file_features
from edgekit.estimate.zoo_features import find_zoo_features

ModelArg = Union[str, Path]


def zoo_lookup(model: str, precision: str) -> ModelFeatures:
    """Features of a zoo row (dataset rows name zoo models)."""
    name = seed.int8_name(model) if precision != FP32 else model
    features = find_zoo_features(name)
    if features is None:
        raise UsageError(f"no precomputed features for {name} (edgekit/data/latency/{data.FEATURES_FILE})")
    return features


def model_features(model: ModelArg, workspace=None, overrides=None) -> ModelFeatures:
    """Features of what a MODEL argument names: a zoo name or ``NAME_int8`` from the shipped
    table (no export, no paddle); anything else (a folder, a ``.pdmodel``, an ONNX file) through
    edgekit's resolver of MODEL arguments (with ``overrides``, the description flags: a zoo name
    with --input-size is exported at that size), then read from its program."""
    text = os.fspath(model)
    sized = overrides is not None and overrides.input_size is not None
    if not isinstance(model, Path) and _is_zoo_name(text) and not Path(text).expanduser().exists() and not sized:
        features = find_zoo_features(text)
        if features is not None:
            return dataclasses.replace(features, model=text)
    if not isinstance(model, Path) and not _names_a_file(text) and not _is_zoo_name(text):
        names = seed.reference_names()  # fail before the resolver imports paddle to say the same
        raise UnknownModelError(text, seed.closest_names(text, names + [seed.int8_name(n) for n in names]))
    if workspace is None:
        from edgekit.workspace import Workspace

        workspace = Workspace.open(None)
    from edgekit.resolve import resolve_inference_model

    inference = resolve_inference_model(model, workspace, overrides=overrides)
    return model_file_features(inference.model_file, inference.name)


def _names_a_file(text: str) -> bool:
    path = Path(text).expanduser()
    return (path.exists() or "/" in text or os.sep in text or text.startswith((".", "~"))
            or text.endswith((".pdmodel", ".pdiparams", ".nb", ".onnx")))


def _is_zoo_name(name: str) -> bool:
    # The zoo registers exactly the seed table's names; asking the registry would import paddle.
    return seed.split_int8(name)[0] in seed.reference_names()


def known_profiles() -> list[str]:
    """Profiles of opt_configs/devices.yaml plus those only the published tables name."""
    from edgekit.device.profiles import profile_names

    return sorted(set(profile_names()) | {p for p, _, _ in data.conditions()})


def check_profile(profile: str) -> None:
    known = known_profiles()
    if profile not in known:
        raise UsageError(f"unknown device profile {profile!r} (known: {', '.join(known)})")


def data_summary(profile: str, measured: tuple[data.LatencyRow, ...] = ()) -> list[str]:
    """What the tables hold for ``profile``: '1 thread fp32: 4 architectures (source)'."""
    lines = []
    for p, threads, precision in data.conditions([*data.published_rows(), *measured]):
        if p == profile:
            ds = data.build_dataset(p, threads, precision, measured=measured)
            lines.append(f"{threads} thread{'s' if threads > 1 else ''} {precision}: {len(ds.architectures)} architectures")
    return lines


@dataclasses.dataclass(frozen=True)
class FittedCondition:
    """A dataset, the model fitted on it and its cross-validation."""

    dataset: data.Dataset
    model: fit.LatencyModel
    cv: fit.CrossValidation
    holdout: Optional[str]

    def basis(self) -> str:
        """The tables (and eras) the fit stands on: 'Paddle Lite release/v2.11 table', '+ 2 measured
        here', 'scaled from seed table (...)'."""
        ds = self.dataset.without(self.holdout)
        published = [r for r in ds.rows if not r.measured]
        parts = [published[0].describe_source()] if published else []
        if ds.measured:
            parts.append(f"{len(ds.measured)} measured here")
        if isinstance(self.model, fit.ScaledModel):
            seed_row = next((r for r in data.published_rows() if r.source == data.SEED), None)
            parts.append(f"scaled from {seed_row.describe_source() if seed_row else 'sd855 1-thread fp32'}")
        return " + ".join(parts) or "nothing"

    def estimate(self, features: ModelFeatures) -> tuple[float, tuple[float, float]]:
        """The estimate of ``features`` and its interval (the condition's cross-validated error)."""
        latency = self.model.predict(features)
        half = self.cv.interval
        return round(latency, 3), (round(latency * (1 - half), 3), round(latency * (1 + half), 3))

    def fitted_on(self) -> dict:
        ds = self.dataset.without(self.holdout)
        published = [r for r in ds.rows if not r.measured]
        out: dict = {"condition": ds.describe(), "architectures": len(ds.architectures),
                     "measured_here": [r.published_name for r in ds.measured], "tables": self.basis()}
        if published:
            first = published[0]
            out["published"] = {"table": first.describe_source(), "source": first.source,
                                "version": first.source_version, "url": first.source_url, "rows": len(published)}
        if isinstance(self.model, fit.ScaledModel):
            out["reference"] = "sd855, 1 thread, fp32 (the seed table), per-kind model"
        out["model"] = self.model.describe()
        if self.holdout:
            out["held_out"] = self.holdout
        return out


@functools.lru_cache(maxsize=64)
def fit_condition(profile: str, threads: int, precision: str, *, holdout: Optional[str] = None,
                  measured: tuple[data.LatencyRow, ...] = ()) -> FittedCondition:
    """The fitted model of one condition (without every row of architecture ``holdout``), its
    leave-one-architecture-out cross-validation on the rows it was fitted on."""
    dataset = data.build_dataset(profile, threads, precision, measured=measured)
    reference = data.build_dataset(*fit.REFERENCE_CONDITION, measured=measured)
    try:
        model = fit.fit_dataset(dataset, reference, zoo_lookup, holdout=holdout)
        cv = fit.cross_validate(dataset.without(holdout), reference.without(holdout), zoo_lookup)
    except fit.NotEnoughData as e:
        summary = "; ".join(data_summary(profile, measured)) or "none"
        raise UsageError(f"cannot estimate latency on {profile} at {threads} thread{'s' if threads > 1 else ''} "
                         f"{precision}: too little data ({e}). Data for {profile}: {summary}") from None
    return FittedCondition(dataset, model, cv, holdout)


@dataclasses.dataclass(frozen=True)
class LatencyEstimate:
    model: str
    profile: str
    threads: int
    precision: str
    latency_ms: float
    interval_ms: tuple[float, float]
    cross_validation: dict
    fitted_on: dict
    published: Optional[dict]  # a published figure of this model and condition, if any
    measured: Optional[dict]  # the latest phone run of it here, if any
    refit: Optional[dict]  # CV before/after the phone runs were added (--refit)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_text(self) -> str:
        lo, hi = self.interval_ms
        cv = self.cross_validation
        lines = [f"{self.model} on {self.profile} ({self.threads} thread{'s' if self.threads > 1 else ''}, {self.precision}): "
                 f"{self.latency_ms:.2f} ms  [{lo:.2f} - {hi:.2f}]",
                 f"  interval: ±{cv['interval_rel'] * 100:.1f}% from leave-one-architecture-out error over "
                 f"{cv['architectures']} architectures ({cv['within_10pct'] * 100:.0f}% within ±10%)",
                 f"  fitted on: {_describe_fit(self.fitted_on)}"]
        for kind, figure in (("published", self.published), ("measured", self.measured)):
            if figure:
                lines.append(f"  {kind}: {figure['latency_ms']:.2f} ms ({figure['table']})")
                if figure["disagreement"]:
                    lines.append(f"    ! {figure['disagreement']}")
        if self.refit:
            lines.append(f"  refit with {self.refit['measured_rows']} phone run(s): {_describe_refit(self.refit)}")
        return "\n".join(lines)


def _describe_fit(fitted: dict) -> str:
    parts = [f"{fitted['condition']}, {fitted['architectures']} architectures", fitted["tables"]]
    if "held_out" in fitted:
        parts.append(f"without {fitted['held_out']}")
    return "; ".join(parts)


def _describe_refit(refit: dict) -> str:
    parts = []
    for key in ("condition", "reference"):
        change = refit.get(key)
        if change:
            parts.append(f"{change['condition']}: median |error| {change['before']['median_abs_error'] * 100:.1f}% → "
                         f"{change['after']['median_abs_error'] * 100:.1f}%")
    return "; ".join(parts) or "no change"


def phone_rows(workspace) -> tuple[data.LatencyRow, ...]:
    """Runs measured on phones in the workspace's results store, as rows; only the zoo's models
    (a fit needs the features it has for them; a user's own model is estimated, not fitted on)."""
    from edgekit.bench.results import ResultStore

    rows = data.measured_rows(ResultStore.for_workspace(workspace).records())
    return tuple(r for r in rows if _is_zoo_name(r.model))


def estimate_latency(model: ModelArg, profile: str, *, threads: int = 1, workspace=None,
                     holdout: Optional[str] = None, refit: bool = False, overrides=None) -> LatencyEstimate:
    """Estimate ``model``'s latency on ``profile``. ``holdout``: fit without every row of that
    architecture first (to check against its published figure); ``refit``: add the phone runs of
    the workspace's results store to the fit and report how the cross-validated error changed.
    ``overrides``: edgekit.description.DescriptionOverrides for a model the resolver converts."""
    check_profile(profile)
    if threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    features = model_features(model, workspace, overrides)
    precision = features.precision
    holdout_arch = data.architecture(holdout) if holdout else None
    measured = phone_rows(workspace) if (refit and workspace is not None) else ()
    if holdout_arch is not None:
        _check_holdout(holdout, holdout_arch, (profile, threads, precision), measured)
    fitted = fit_condition(profile, threads, precision, holdout=holdout_arch, measured=measured)
    latency, interval = fitted.estimate(features)
    name = features.model
    published = data.published_figure(name, profile, threads, precision)
    own = [r for r in measured if (r.profile, r.threads, r.precision) == (profile, threads, precision)
           and r.architecture == data.architecture(name)]
    return LatencyEstimate(
        model=features.model, profile=profile, threads=threads, precision=precision, latency_ms=latency,
        interval_ms=interval, cross_validation=fitted.cv.to_dict(), fitted_on=fitted.fitted_on(),
        published=_row_summary(published, fitted, latency, interval),
        measured=_row_summary(own[0], fitted, latency, interval) if own else None,
        refit=_refit_change(profile, threads, precision, holdout_arch, measured) if refit else None)


def _check_holdout(holdout: str, arch: str, condition: tuple[str, int, str],
                   measured: tuple[data.LatencyRow, ...]) -> None:
    """--holdout must name an architecture some fitted row has (here or in the reference)."""
    fitted = {a for c in (condition, fit.REFERENCE_CONDITION)
              for a in data.build_dataset(*c, measured=measured).architectures}
    if arch not in fitted:
        raise UsageError(f"--holdout {holdout}: no figure of {arch} is fitted for {condition[0]}, so there is "
                         "nothing to hold out")


def disagreement(row: data.LatencyRow, fitted: FittedCondition, latency: float,
                 interval: tuple[float, float]) -> Optional[str]:
    """Why a published or measured figure and the estimate disagree, when the figure lies outside
    the estimate's interval (None otherwise): most often tables of different Paddle Lite eras."""
    lo, hi = interval
    if lo <= row.latency_ms <= hi:
        return None
    table, basis = row.describe_source(), fitted.basis()
    why = "" if basis.startswith(table) else " (another table/era)"
    return f"{table}: {row.latency_ms:.2f} ms, outside the estimate's [{lo:.2f}-{hi:.2f}] ms from {basis}{why}"


def _row_summary(row: Optional[data.LatencyRow], fitted: FittedCondition, latency: float,
                 interval: tuple[float, float]) -> Optional[dict]:
    if row is None:
        return None
    return {"latency_ms": row.latency_ms, "table": row.describe_source(), "source": row.source,
            "source_version": row.source_version, "url": row.source_url, "published_name": row.published_name,
            "disagreement": disagreement(row, fitted, latency, interval)}


def _refit_change(profile: str, threads: int, precision: str, holdout: Optional[str],
                  measured: tuple[data.LatencyRow, ...]) -> dict:
    """Cross-validated error of the condition (and of the reference it may scale) with and
    without the phone runs."""
    out: dict = {"measured_rows": len(measured)}
    pairs = [("condition", (profile, threads, precision))]
    if (profile, threads, precision) != fit.REFERENCE_CONDITION:
        pairs.append(("reference", fit.REFERENCE_CONDITION))
    for key, condition in pairs:
        relevant = tuple(r for r in measured if (r.profile, r.threads, r.precision) == condition)
        if not relevant and key == "reference":
            continue
        try:
            before = fit_condition(*condition, holdout=holdout)
            after = fit_condition(*condition, holdout=holdout, measured=measured)
        except UsageError:
            continue
        out[key] = {"condition": before.dataset.describe(), "rows_added": len(relevant),
                    "before": _cv_brief(before.cv), "after": _cv_brief(after.cv)}
    return out


def _cv_brief(cv: fit.CrossValidation) -> dict:
    return {"architectures": cv.count, "within_10pct": round(cv.within_10pct, 3),
            "median_abs_error": round(cv.median_abs, 4), "worst_abs_error": round(cv.worst_abs, 4)}
