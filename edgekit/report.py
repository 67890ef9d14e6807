"""Reports of benchmark results beside PaddleClas's published table (the seed).

One row per latest successful run of each (model, device, settings): measured latency (the median
of the rounds' averages, with their spread, when ``bench --rounds`` ran several; else the average)
and exact ``.nb`` storage next to the seed's Snapdragon 855 latency and storage. Only a phone's
latency (an ARM Android device) is compared with the seed's: edgekit's virtual device and other
devices (an x86_64 Android device) get no latency delta. Writers: Markdown (like the seed's table,
thread counts side by side), CSV, JSON, and PNG plots like PaddleClas's figures: Top-1 against
latency and against storage, each family of the seed as a line, measured points on top.

Storage is the exact ``.nb`` size, shown in MiB and in MB (10^6 bytes). The seed's "Storage
Size(M)" reads as MB for some rows and as MiB for others (benchmarks/RESULTS.md, "Storage"), so the
storage delta uses whichever reading is closer to the seed's figure and says which.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

from edgekit import reference
from edgekit.bench.results import KIND_PHONE, KIND_VIRTUAL, BenchRecord, ResultStore, latest_per_run_kind
from edgekit.errors import UsageError
from edgekit.workspace import Workspace, atomic_write_bytes

FORMATS = ("md", "csv", "json")
SEED_INPUT_SHAPE = "1,3,224,224"
MIB = 1 << 20
OTHER_FAMILY = "other"
PLOT_FILES = {"latency": "top1_vs_latency.png", "storage": "top1_vs_storage.png"}
NO_RESULTS = "No benchmark results yet (run `edgekit bench` or `edgekit results import`)."
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_KIND_MARKS = {KIND_VIRTUAL: " †", KIND_PHONE: ""}
_OTHER_MARK = " ‡"


@dataclasses.dataclass(frozen=True)
class ReportRow:
    model: str
    family: str
    precision: str
    device: Optional[str]  # profile name
    serial: Optional[str]
    kind: str  # "phone", "virtual" (edgekit's virtual device: host latency) or "other" (not ARM Android)
    virtual: bool  # kind == "virtual"
    threads: Optional[int]
    warmup: Optional[int]
    repeats: Optional[int]
    power_mode: Optional[int]
    input_shape: Optional[str]
    latency_ms: float  # the median of the rounds' averages when several rounds ran, else the average
    latency_std_ms: Optional[float]  # std of the rounds' averages (None for one round)
    latency_rounds: int  # how many runs of the binary the latency sums up
    latency_min_ms: Optional[float]
    latency_max_ms: Optional[float]
    storage_bytes: Optional[int]
    storage_mib: Optional[float]
    storage_mb: Optional[float]  # 10^6 bytes
    seed_latency_ms: Optional[float]
    seed_storage_mb: Optional[float]
    latency_delta_pct: Optional[float]  # only for a phone under the seed's conditions
    storage_delta_pct: Optional[float]
    storage_delta_unit: Optional[str]  # "MB" or "MiB": the reading of the seed's "M" the delta uses
    top1: Optional[float]
    source: str
    run_id: str
    # the hottest thermal zone before and after the run, and whether a CPU's frequency was capped
    # then (None: the record has no thermal readings, e.g. an imported file)
    hottest_before_c: Optional[float] = None
    hottest_after_c: Optional[float] = None
    throttled: Optional[bool] = None

    @property
    def is_phone(self) -> bool:
        return self.kind == KIND_PHONE

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Report:
    rows: tuple[ReportRow, ...]
    plots: tuple[Path, ...] = ()
    profile: Optional[str] = None  # the --device filter, for saying what is missing
    message: Optional[str] = None  # why there are no rows or no plots

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows], "plots": [str(p) for p in self.plots],
                "message": self.message}


def build_rows(records: Iterable[BenchRecord], *, profile: Optional[str] = None) -> list[ReportRow]:
    """Rows for the latest successful run per (model, device, settings), seed table order first."""
    rows = [_row(r) for r in latest_per_run_kind(records, profile=profile)]
    order = {name: i for i, name in enumerate(reference.reference_names())}
    return sorted(rows, key=lambda r: (order.get(r.model, len(order)), r.model, r.device or "",
                                       r.serial or "", r.threads or 0))


def make_report(workspace: Workspace, *, profile: Optional[str] = None,
                plots_dir: Optional[Path] = None) -> Report:
    """The report of the workspace's results store (and its plots when ``plots_dir`` is given;
    none when there is nothing to plot: ``message`` says so).
    ``profile`` must be a device profile of devices.yaml (ConfigError naming the known ones)."""
    if profile is not None:
        from edgekit.device.profiles import load_profile

        load_profile(profile)
    rows = build_rows(ResultStore.for_workspace(workspace).records(), profile=profile)
    if not rows:
        message = _no_rows_message(profile)
        if plots_dir is not None:
            message += " No plots written."
        return Report((), (), profile, message)
    plots = write_plots(rows, plots_dir) if plots_dir is not None else []
    return Report(tuple(rows), tuple(plots), profile)


def _no_rows_message(profile: Optional[str]) -> str:
    if profile is not None:
        return (f"No benchmark results for device profile {profile} (run `edgekit bench --device {profile}` "
                f"or `edgekit results import --device {profile}`).")
    return NO_RESULTS


def render(report: Report, fmt: str) -> str:
    if fmt == "md":
        if not report.rows and report.message:
            return report.message
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
    measured = latency.get("median_ms") if latency.get("median_ms") is not None else latency["avg_ms"]
    nb_bytes = (record.nb or {}).get("bytes")
    seed_latency = ref.sd855_ms if ref else None
    seed_storage = ref.storage_mb if ref else None
    settings = record.settings
    comparable = record.is_phone and _seed_conditions(settings)
    return ReportRow(
        model=record.model,
        family=family_ref.family if family_ref else OTHER_FAMILY,
        precision=record.precision,
        device=record.profile,
        serial=record.device.get("serial"),
        kind=record.kind,
        virtual=record.kind == KIND_VIRTUAL,
        threads=settings.get("threads"),
        warmup=settings.get("warmup"),
        repeats=settings.get("repeats"),
        power_mode=settings.get("power_mode"),
        input_shape=settings.get("input_shape"),
        latency_ms=measured,
        latency_std_ms=latency.get("std_ms"),
        latency_rounds=len(latency.get("samples_ms") or ()) or 1,
        latency_min_ms=latency.get("min_ms"),
        latency_max_ms=latency.get("max_ms"),
        storage_bytes=nb_bytes,
        storage_mib=nb_bytes / MIB if nb_bytes is not None else None,
        storage_mb=nb_bytes / 1e6 if nb_bytes is not None else None,
        seed_latency_ms=seed_latency,
        seed_storage_mb=seed_storage,
        latency_delta_pct=_delta_pct(measured, seed_latency) if comparable else None,
        **_storage_delta(nb_bytes, seed_storage),
        top1=ref.top1 if ref else None,
        source=record.source,
        run_id=record.run_id,
        **_thermal(record.extra.get("thermal")),
    )


def _thermal(state: Optional[dict]) -> dict:
    """The hottest zone before and after the run, and throttled before or after, from the
    record's snapshots (a snapshot that could not be read has only an "error")."""
    readable = {when: snap for when in ("before", "after")
                if isinstance(snap := (state or {}).get(when), dict) and "error" not in snap}
    if not readable:
        return {}
    return {"hottest_before_c": readable.get("before", {}).get("hottest_c"),
            "hottest_after_c": readable.get("after", {}).get("hottest_c"),
            "throttled": any(bool(snap.get("throttled")) for snap in readable.values())}


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


def _thread_columns(rows: Sequence[ReportRow]) -> list[Optional[int]]:
    return sorted({r.threads for r in rows}, key=lambda t: (t is None, t or 0))


def _group_key(row: ReportRow) -> tuple:
    """Rows that differ only in their thread count share a line of the Markdown table."""
    return (row.model, row.device, row.serial, row.kind, row.precision, row.warmup, row.repeats, row.power_mode,
            row.input_shape, row.source)


def render_markdown(rows: Sequence[ReportRow], *, profile: Optional[str] = None) -> str:
    """A Markdown table like the seed's "Inference speed and storage size based on SD855", with
    one latency column per thread count (as PaddleClas's benchmark.sh measured 1, 2 and 4)."""
    if not rows:
        return _no_rows_message(profile)
    threads = _thread_columns(rows)
    latency_headers = [f"{_threads_name(t)} (ms)" for t in threads]
    thermal = any(r.throttled is not None for r in rows)
    headers = ["Model", "Device", *latency_headers, *(["Hottest °C (before→after)"] if thermal else []),
               "Storage (MiB)", "SD855 latency (ms)", "SD855 storage (M)", "Δ latency", "Δ storage"]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join([":--"] * 2 + ["--:"] * (len(headers) - 2)) + "|"]
    groups: dict[tuple, dict[Optional[int], ReportRow]] = {}
    for row in rows:
        groups.setdefault(_group_key(row), {})[row.threads] = row
    for by_threads in groups.values():
        first = next(iter(by_threads.values()))
        delta = next((r.latency_delta_pct for r in by_threads.values() if r.latency_delta_pct is not None), None)
        cells = [first.model, (first.device or "?") + _KIND_MARKS.get(first.kind, _OTHER_MARK),
                 *[_fmt_latency(by_threads.get(t)) for t in threads],
                 *([_fmt_thermal([by_threads[t] for t in threads if t in by_threads])] if thermal else []),
                 _fmt(first.storage_mib, 2),
                 _fmt(first.seed_latency_ms, 3), _fmt(first.seed_storage_mb, 1), _fmt_pct(delta),
                 _fmt_storage_delta(first)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + _notes(rows, thermal=thermal))


def _threads_name(threads: Optional[int]) -> str:
    return "threads ?" if threads is None else f"{threads} thread" + ("s" if threads != 1 else "")


def _notes(rows: Sequence[ReportRow], *, thermal: bool = False) -> list[str]:
    notes = ["", "Latency: average of the measured runs of the benchmark binary; with several rounds, the median "
             "of the rounds' averages ± their standard deviation. Δ latency only for phones under the seed's "
             "conditions (1 thread, input 1x3x224x224). Storage: exact `.nb` size; the seed's \"M\" is MB (10^6 "
             "bytes) in some rows and MiB in others, so Δ storage uses the closer reading and names it."]
    if thermal:
        notes.append("Hottest °C: the device's hottest thermal zone before → after the run (one per thread count, "
                     "in column order); ! throttled: a CPU's frequency was capped before or after it, so its "
                     "latency is slower than the device can do.")
    if any(row.kind == KIND_VIRTUAL for row in rows):
        notes.append("† edgekit's virtual device: the latency is the host's (x86 `.nb`), not a phone's; not "
                     "compared with the SD855 figures.")
    if any(row.kind not in (KIND_PHONE, KIND_VIRTUAL) for row in rows):
        notes.append("‡ not an ARM Android device: its latency is not a phone's; not compared with the SD855 "
                     "figures.")
    return notes


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


def _fmt_latency(row: Optional[ReportRow]) -> str:
    if row is None:
        return "-"
    if row.latency_std_ms is None:
        return _fmt(row.latency_ms, 3)
    return f"{row.latency_ms:.3f} ± {row.latency_std_ms:.3f}"


def _fmt_thermal(rows: Sequence[ReportRow]) -> str:
    """'41→47' per run, ' / '-joined across thread counts; '! throttled' when any was."""
    def one(row: ReportRow) -> str:
        if row.throttled is None:
            return "-"
        before, after = (("?" if t is None else f"{t:.0f}") for t in (row.hottest_before_c, row.hottest_after_c))
        return f"{before}→{after}"

    cells = " / ".join(one(r) for r in rows)
    return cells + (" ! throttled" if any(r.throttled for r in rows) else "")


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
        try:
            atomic_write_bytes(path, png)
        except OSError as e:  # e.g. a folder under a file, or one that cannot be made
            raise UsageError(f"cannot write the plot {path}: {e.strerror or e}"
                             f"{f' ({e.filename})' if e.filename and str(e.filename) != str(path) else ''}") from None
        written.append(path)
    return written


def _plot_png(rows: Sequence[ReportRow], axis: str) -> bytes:
    buffer = io.BytesIO()
    plot_figure(rows, axis).savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def plot_figure(rows: Sequence[ReportRow], axis: str):
    """The matplotlib Figure of Top-1 against ``axis`` ("latency" or "storage")."""
    # A bare Figure on the Agg canvas: no pyplot, so the caller's backend choice is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plotted = _plotted_rows(rows)
    names = sorted({series_of(m.name) for m in reference.reference_models()} | {series_of(r.model) for r in plotted})
    styles = {name: (f"C{i % 10}", _MARKERS[i % len(_MARKERS)]) for i, name in enumerate(names)}
    # latency: a phone's points beside the SD855 lines; any other device's on a panel of its own
    panels = [("phone", [r for r in plotted if axis != "latency" or r.is_phone])]
    others = [r for r in plotted if not r.is_phone]
    if axis == "latency" and others:
        panels.append(("host", others))
    figure = Figure(figsize=(8.5 * len(panels) + 2.5, 6.5), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    unit = "latency (ms), batch 1" if axis == "latency" else "storage (MiB; the seed's M)"
    for ax, (panel, points) in zip(axes, panels):
        if panel == "phone":
            _plot_seed_lines(ax, axis, styles)
        _plot_measured(ax, points, axis, styles)
        ax.set_xlim(0, ax.dataLim.x1 * 1.08)  # room right of the last point for its label
        ax.set_xlabel(unit)
        ax.set_ylabel("ImageNet Top-1 (PaddleClas)")
        ax.grid(True, alpha=0.3)
        ax.set_title(_panel_title(panel, axis, points), fontsize=9)
    for ax, (_, points) in zip(axes, panels):
        _label_points(ax, points, axis)  # after every limit is set: labels are placed in screen space
    legend: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    # outside the axes, right of the last panel: it never hides a point or a label
    figure.legend(list(legend.values()), list(legend), loc="upper left",
                  bbox_to_anchor=(axes[-1].get_position().x1 + 0.01, 0.95), fontsize=8, frameon=False)
    return figure


def series_of(model: str) -> str:
    """The line a model belongs to, as PaddleClas draws them: the architecture without its width
    multiplier, its distilled weights (_ssld) or int8 ("MobileNetV3_large_x1_0_ssld" →
    "MobileNetV3_large")."""
    base, _ = reference.split_int8(model)
    return re.sub(r"_x\d+_\d+(?=$|_)", "", base).replace("_ssld", "")


def _is_variant(model: str) -> bool:
    """A distilled (_ssld) or int8 model: beside its architecture's line, not on it."""
    return "_ssld" in model or reference.split_int8(model)[1]


def _plotted_rows(rows: Sequence[ReportRow]) -> list[ReportRow]:
    """The rows a plot shows: the seed's condition of 1 thread (each model's fewest threads when it
    has no 1-thread run), with a Top-1 to place them."""
    fewest: dict[tuple, int] = {}
    for row in rows:
        key = (row.model, row.device, row.serial)
        fewest[key] = min(fewest.get(key, row.threads or 1), row.threads or 1)
    return [r for r in rows if r.top1 is not None and (r.threads or 1) == fewest[(r.model, r.device, r.serial)]]


def _panel_title(panel: str, axis: str, points: Sequence[ReportRow]) -> str:
    devices = ", ".join(sorted({r.device or "?" for r in points})) or "no device"
    if panel == "host":
        return (f"Top-1 vs latency on {devices}: edgekit's virtual device or another non-phone device\n"
                f"(host latency: not comparable with the SD855 figures)")
    measured = f"measured on {devices} (filled)" if points else "nothing measured on a phone yet"
    return f"Top-1 vs {axis}: PaddleClas's SD855 table (lines, hollow), {measured}"


def _seed_x(model: "reference.ReferenceModel", axis: str) -> Optional[float]:
    return model.sd855_ms if axis == "latency" else model.storage_mb


def _plot_seed_lines(ax, axis: str, styles: dict) -> None:
    """Every model of the seed, hollow: one line per architecture through its width multipliers
    (sorted by x), as PaddleClas's figures draw them; distilled (_ssld) and int8 models are points
    of their architecture's colour beside the line."""
    lines: dict[str, list[tuple[float, float]]] = {}
    variants: dict[str, list[tuple[float, float]]] = {}
    for model in reference.reference_models():
        x = _seed_x(model, axis)
        if model.top1 is not None and x is not None:
            group = variants if _is_variant(model.name) else lines
            group.setdefault(series_of(model.name), []).append((x, model.top1))
    for name, points in lines.items():
        color, marker = styles[name]
        xs, ys = zip(*sorted(points))
        ax.plot(xs, ys, color=color, marker=marker, markerfacecolor="none", alpha=0.6,
                linewidth=1.2 if len(points) > 1 else 0, label=f"{name} (SD855, PaddleClas)", zorder=2)
    for name, points in variants.items():
        color, marker = styles[name]
        xs, ys = zip(*points)
        ax.scatter(xs, ys, marker=marker, facecolors="none", edgecolors=color, alpha=0.6, zorder=2)
    if variants:  # one legend entry for them all
        ax.scatter([], [], marker="o", facecolors="none", edgecolors="gray",
                   label="distilled (ssld) and int8 models (SD855): hollow, off the lines")


def _plot_measured(ax, rows: Sequence[ReportRow], axis: str, styles: dict) -> None:
    """Measured points, filled, on top; with several rounds, a bar of ± one std of the rounds."""
    for name in sorted({series_of(r.model) for r in rows}):
        mine = [r for r in rows if series_of(r.model) == name and _measured_x(r, axis) is not None]
        if not mine:
            continue
        color, marker = styles[name]
        xs = [_measured_x(r, axis) for r in mine]
        ys = [r.top1 for r in mine]
        ax.scatter(xs, ys, marker=marker, color=color, s=42, zorder=4, edgecolors="black", linewidths=0.6,
                   label=f"{name} (measured)")
        if axis == "latency" and any(r.latency_std_ms for r in mine):
            ax.errorbar(xs, ys, xerr=[r.latency_std_ms or 0.0 for r in mine], fmt="none", ecolor=color,
                        elinewidth=1, capsize=3, zorder=3)


def _measured_x(row: ReportRow, axis: str) -> Optional[float]:
    return row.latency_ms if axis == "latency" else row.storage_mib


def _label_points(ax, rows: Sequence[ReportRow], axis: str) -> None:
    """Name each measured point, moving a label to the next free spot when it would cover another
    (positions in points, on the screen; a simple greedy placement)."""
    to_points = 72.0 / ax.figure.dpi
    frame = ax.get_window_extent()
    right, top = frame.x1 * to_points, frame.y1 * to_points
    placed: list[tuple[float, float, float, float]] = []
    offsets = [(5, -9), (5, 4), (5, -20), (5, 15), (-5, -9), (-5, 4), (5, -31), (5, 26)]
    for row in sorted(rows, key=lambda r: (_measured_x(r, axis) or 0, r.top1 or 0)):
        x = _measured_x(row, axis)
        if x is None:
            continue
        px, py = (v * to_points for v in ax.transData.transform((x, row.top1)))
        width, height = 3.3 * len(row.model), 7.0  # fontsize 6
        for dx, dy in offsets:
            left = px + dx if dx > 0 else px + dx - width
            box = (left, py + dy, left + width, py + dy + height)
            inside = box[2] <= right and box[3] <= top
            if inside and not any(_overlap(box, other) for other in placed):
                break
        placed.append(box)
        ax.annotate(row.model, (x, row.top1), textcoords="offset points", xytext=(dx, dy), fontsize=6, zorder=5,
                    ha="left" if dx > 0 else "right")


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
