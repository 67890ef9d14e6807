"""``select_models``: the zoo models that fit a latency (and storage) budget on a profile, ranked by
top-1, with their Pareto frontier. Every figure says where it comes from: a phone run measured here
beats a published table, which beats an estimate."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from edgekit import reference as seed
from edgekit.errors import UsageError
from edgekit.estimate import data
from edgekit.estimate.estimator import check_profile, data_summary, disagreement, fit_condition, phone_rows
from edgekit.estimate.features import FP32, INT8
from edgekit.estimate.zoo_features import find_zoo_features

ESTIMATED = "estimated"
MB = 1_000_000


@dataclasses.dataclass(frozen=True)
class Candidate:
    model: str
    precision: str
    latency_ms: Optional[float]
    # "measured here (Paddle Lite v2.13)", "published: <table, era>", "estimated (<tables fitted on>)", "no data"
    latency_source: str
    top1: Optional[float]
    top1_source: str
    storage_mb: Optional[float]
    storage_source: str
    fits: bool = False
    frontier: bool = False
    latency_table: str = ""  # the table (and its Paddle Lite era) behind latency_ms
    estimate_ms: Optional[float] = None  # the latency model's figure, also where a table or a run ranks
    estimate_interval_ms: Optional[tuple[float, float]] = None
    disagreement: Optional[str] = None  # the ranking figure lies outside the estimate's interval

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class _Latency:
    latency_ms: Optional[float]
    source: str
    table: str = ""
    estimate_ms: Optional[float] = None
    estimate_interval_ms: Optional[tuple[float, float]] = None
    disagreement: Optional[str] = None


def _latency(name: str, precision: str, profile: str, threads: int,
             measured: tuple[data.LatencyRow, ...]) -> _Latency:
    """The figure that ranks ``name`` (measured here > published table > estimated), naming its
    table and era, with the estimate beside it and whether the two disagree."""
    arch = data.architecture(name)
    own = [r for r in measured if (r.profile, r.threads, r.precision) == (profile, threads, precision)
           and r.architecture == arch]
    row = own[-1] if own else data.published_figure(name, profile, threads, precision)
    try:  # the phone runs refit the condition too: they make the estimates of the others better
        fitted = fit_condition(profile, threads, precision, measured=measured)
    except UsageError:
        fitted = None
    features = find_zoo_features(name) if fitted is not None else None
    estimate, interval = fitted.estimate(features) if features is not None else (None, None)
    if row is not None:
        table = row.describe_source()
        source = (table if row.measured else f"published: {table}") + _same_network(row, name)
        flag = disagreement(row, fitted, estimate, interval) if estimate is not None else None
        return _Latency(row.latency_ms, source, table, estimate, interval, flag)
    if estimate is None:
        return _Latency(None, "no data")
    return _Latency(estimate, f"{ESTIMATED} ({fitted.basis()})", fitted.basis(), estimate, interval)


def _same_network(row: data.LatencyRow, name: str) -> str:
    """' (as MobileNetV2)' when the figure is of another weight set of the same network."""
    base = seed.split_int8(name)[0]
    return "" if row.model == base else f" (as {row.model})"


def _top1(name: str) -> tuple[Optional[float], str]:
    row = seed.find_reference(name)
    if row is not None and row.top1 is not None:
        return row.top1, "published: seed table"
    base, is_int8 = seed.split_int8(name)
    base_row = seed.find_reference(base)
    if is_int8 and base_row is not None and base_row.top1 is not None:
        return base_row.top1, "fp32 model's (int8 not measured)"
    return None, "no data"


def _storage(name: str) -> tuple[Optional[float], str]:
    row = seed.find_reference(name)
    if row is not None and row.storage_mb is not None:
        return row.storage_mb, "published: seed table"
    features = find_zoo_features(name)
    if features is None:
        return None, "no data"
    return round(features.weight_bytes / MB, 2), ESTIMATED + " (weights)"


def candidate_names(int8: bool) -> list[str]:
    """The zoo's names (the seed table's, without its int8 row: the registry itself imports paddle),
    and with ``int8`` their ``_int8`` variants."""
    names = [n for n in seed.reference_names() if not seed.split_int8(n)[1]]
    return names + [seed.int8_name(n) for n in names] if int8 else names


def pareto_front(candidates: list[Candidate]) -> set[str]:
    """Names of the candidates no other one beats on both latency (lower) and top-1 (higher)."""
    ranked = sorted((c for c in candidates if c.latency_ms is not None and c.top1 is not None),
                    key=lambda c: (c.latency_ms, -c.top1))
    front, best = set(), float("-inf")
    for c in ranked:
        if c.top1 > best:
            front.add(c.model)
            best = c.top1
    return front


def select_models(profile: str, max_latency_ms: float, *, max_storage_mb: Optional[float] = None,
                  int8: bool = False, threads: int = 1, workspace=None) -> list[Candidate]:
    """Every candidate (the zoo, plus ``_int8`` variants with ``int8``) with its figures; those
    within budget marked ``fits``, the Pareto frontier of those marked ``frontier``; fitting
    ones first, by top-1."""
    check_profile(profile)
    if not (math.isfinite(max_latency_ms) and max_latency_ms > 0):  # nan fails every comparison: nothing "fits"
        raise UsageError(f"--max-latency-ms must be a positive number (got {max_latency_ms})")
    if max_storage_mb is not None and not (math.isfinite(max_storage_mb) and max_storage_mb > 0):
        raise UsageError(f"--max-storage-mb must be a positive number (got {max_storage_mb})")
    if threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    measured = phone_rows(workspace) if workspace is not None else ()
    candidates = []
    for name in candidate_names(int8):
        precision = INT8 if seed.split_int8(name)[1] else FP32
        lat = _latency(name, precision, profile, threads, measured)
        top1, top1_source = _top1(name)
        storage, storage_source = _storage(name)
        fits = (lat.latency_ms is not None and lat.latency_ms <= max_latency_ms
                and (max_storage_mb is None or (storage is not None and storage <= max_storage_mb)))
        candidates.append(Candidate(name, precision, lat.latency_ms, lat.source, top1, top1_source,
                                    storage, storage_source, fits, latency_table=lat.table,
                                    estimate_ms=lat.estimate_ms, estimate_interval_ms=lat.estimate_interval_ms,
                                    disagreement=lat.disagreement))
    front = pareto_front([c for c in candidates if c.fits])
    candidates = [dataclasses.replace(c, frontier=c.model in front) for c in candidates]
    return sorted(candidates, key=lambda c: (not c.fits, -(c.top1 or 0), c.latency_ms or 0))


def table_mix(candidates: list[Candidate]) -> dict[str, dict[str, int]]:
    """Per precision, how many latency figures each table (and era) gives: more than one table in
    a precision means the ranking compares figures of different Paddle Lite releases."""
    mix: dict[str, dict[str, int]] = {}
    for c in candidates:
        if c.latency_ms is not None:
            tables = mix.setdefault(c.precision, {})
            tables[c.latency_table] = tables.get(c.latency_table, 0) + 1
    return mix


def require_figures(candidates: list[Candidate], profile: str, threads: int) -> None:
    """UsageError naming the data there is when no candidate has a latency figure: "no model fits"
    would blame the budget for what is a condition without data."""
    if candidates and all(c.latency_ms is None for c in candidates):
        summary = "; ".join(data_summary(profile)) or "none"
        raise UsageError(f"no latency figure for any model on {profile} at {threads} thread"
                         f"{'s' if threads > 1 else ''}. Data for {profile}: {summary}")


LABEL_FONT = 7  # points
LABEL_GAP = 1.35  # label pitch, in line heights


def selection_figure(candidates: list[Candidate], *, profile: str, max_latency_ms: float, threads: int):
    """Top-1 against latency: every candidate with figures, colour by latency source, the frontier
    joined and named, the budget as a vertical line. The frontier's names stand in a column left of
    the axes (the y axis is on the right), each joined to its point by a thin line: left of a
    frontier point, at its height, no candidate within budget can be (it would be faster and as
    accurate), so the lines cross nothing and the names cover no point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    shown = [c for c in candidates if c.latency_ms is not None and c.top1 is not None]
    colours = {data.MEASURED: "tab:green", ESTIMATED: "tab:orange"}
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for c in shown:
        kind = next((k for k in colours if c.latency_source.startswith(k)), "published")
        ax.scatter(c.latency_ms, c.top1 * 100, s=30 if c.fits else 12, alpha=1.0 if c.fits else 0.35,
                   color=colours.get(kind, "tab:blue"), marker="s" if c.precision == INT8 else "o")
    front = sorted((c for c in shown if c.frontier), key=lambda c: c.latency_ms)
    ax.plot([c.latency_ms for c in front], [c.top1 * 100 for c in front], color="black", linewidth=1)
    ax.axvline(max_latency_ms, color="red", linestyle="--", linewidth=1)
    for label, colour in (("measured here", "tab:green"), ("published", "tab:blue"), ("estimated", "tab:orange")):
        ax.scatter([], [], color=colour, label=label)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8,
              title="latency from (square: int8)", title_fontsize=8)
    # log latency: the frontier's fast models get room beside the slow ones beyond the budget
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.set_xlabel(f"latency on {profile}, {threads} thread{'s' if threads > 1 else ''} (ms)")
    ax.set_ylabel("ImageNet top-1 (%)")
    ax.set_title(f"Models within {max_latency_ms:g} ms on {profile}: Pareto frontier")
    ax.grid(alpha=0.3, which="both")
    _label_frontier(ax, front)
    return fig


def _label_frontier(ax, front: list[Candidate]) -> None:
    """Names in a column left of the axes, at their points' heights, pushed apart just enough not
    to touch (in axes fractions; the order of the points is kept, so the lines never cross)."""
    if not front:
        return
    ax.figure.canvas.draw()  # fixes the limits the heights are read against
    height_px = ax.get_window_extent().height
    gap = LABEL_FONT * LABEL_GAP * ax.figure.dpi / 72 / height_px
    to_axes = ax.transAxes.inverted()
    heights = [to_axes.transform(ax.transData.transform((c.latency_ms, c.top1 * 100)))[1] for c in front]
    order = sorted(range(len(front)), key=lambda i: heights[i])
    placed = [heights[i] for i in order]
    for k in range(1, len(placed)):  # upwards: at least one gap above the one below
        placed[k] = max(placed[k], placed[k - 1] + gap)
    top = max(1.0, gap * (len(placed) - 1))
    for k in range(len(placed) - 1, -1, -1):  # then down again where the column ran over the top
        placed[k] = min(placed[k], top if k == len(placed) - 1 else placed[k + 1] - gap)
    for k, i in enumerate(order):
        c = front[i]
        ax.annotate(f"{c.model}  {c.latency_ms:.2f} ms", (c.latency_ms, c.top1 * 100), xytext=(-0.02, placed[k]),
                    textcoords="axes fraction", ha="right", va="center", fontsize=LABEL_FONT, annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": "grey", "linewidth": 0.6, "shrinkA": 2, "shrinkB": 3})


def plot_selection(candidates: list[Candidate], path, *, profile: str, max_latency_ms: float, threads: int) -> None:
    """Write ``selection_figure`` as a PNG at ``path`` (atomically)."""
    import io

    import matplotlib.pyplot as plt

    from edgekit.workspace import atomic_write_bytes

    fig = selection_figure(candidates, profile=profile, max_latency_ms=max_latency_ms, threads=threads)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as e:  # e.g. a folder under a file, or one that cannot be made
        raise UsageError(f"cannot write the plot {path}: {e.strerror or e}"
                             f"{f' ({e.filename})' if e.filename and str(e.filename) != str(path) else ''}") from None
