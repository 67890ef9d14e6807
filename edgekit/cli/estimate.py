"""``edgekit estimate`` and ``select``: latency before the phone, and the best model for a budget."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from edgekit.cli._common import description_options, emit, json_option, open_workspace, workspace_option

SELECT_COLUMNS = ("model", "latency_ms", "latency_source", "top1", "storage_mb", "storage_source", "frontier")


@click.command()
@click.argument("model")
@click.option("--device", "profile", required=True, metavar="PROFILE",
              help="Device profile (opt_configs/devices.yaml, or a SoC of the published tables).")
@click.option("--threads", type=int, default=1, show_default=True, help="CPU threads.")
@click.option("--holdout", metavar="NAME", help="Fit without every row of NAME's architecture first.")
@click.option("--refit", is_flag=True, help="Add the phone runs of the results store to the fit; report the change "
                                            "in cross-validated error.")
@description_options
@workspace_option
@json_option
def estimate(model: str, profile: str, threads: int, holdout: Optional[str], refit: bool,
             workspace: Optional[str], as_json: bool, overrides) -> None:
    """Estimate MODEL's latency on a device profile (zoo name, NAME_int8, an inference-model
    folder or an .onnx file), with an interval from the profile's leave-one-architecture-out error.
    The description flags (--config, --input-size, ...) describe a model that is converted."""
    from edgekit.estimate import estimate_latency

    result = estimate_latency(model, profile, threads=threads, workspace=open_workspace(workspace),
                              holdout=holdout, refit=refit, overrides=overrides)
    emit(result.to_dict(), as_json, lambda _: result.to_text())


@click.command()
@click.option("--device", "profile", required=True, metavar="PROFILE", help="Device profile.")
@click.option("--max-latency-ms", type=float, required=True, help="Latency budget (ms).")
@click.option("--max-storage-mb", type=float, default=None, help="Storage budget (MB).")
@click.option("--int8", is_flag=True, help="Also consider the int8 variant of every model.")
@click.option("--threads", type=int, default=1, show_default=True, help="CPU threads.")
@click.option("--all", "show_all", is_flag=True, help="Also list the models that do not fit.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write top-1 vs latency (PNG).")
@workspace_option
@json_option
def select(profile: str, max_latency_ms: float, max_storage_mb: Optional[float], int8: bool, threads: int,
           show_all: bool, plot: Optional[str], workspace: Optional[str], as_json: bool) -> None:
    """The models that fit a latency (and storage) budget on a device profile, best top-1 first,
    with their Pareto frontier; each figure says whether it was measured here, published or estimated."""
    from edgekit._table import format_table
    from edgekit.estimate.select import plot_selection, require_figures, select_models, table_mix

    candidates = select_models(profile, max_latency_ms, max_storage_mb=max_storage_mb, int8=int8,
                               threads=threads, workspace=open_workspace(workspace))
    require_figures(candidates, profile, threads)
    if plot:
        plot_selection(candidates, Path(plot), profile=profile, max_latency_ms=max_latency_ms, threads=threads)
    shown = [c.to_dict() for c in candidates if c.fits or show_all]

    def render(rows: list[dict], tables: dict[str, dict[str, int]]) -> str:
        if not rows:
            return f"no model fits {max_latency_ms:g} ms on {profile}"
        def cell(row: dict, column: str):
            if column == "frontier":
                return "*" if row[column] else ""
            if column == "top1" and row[column] is not None and not row["top1_source"].startswith("published"):
                return f"{row[column]:.3f}~"  # the fp32 model's: int8 top-1 not measured
            if column == "latency_ms" and row["disagreement"]:
                return f"{row[column]}!"
            return row[column]

        table = format_table(SELECT_COLUMNS, [[cell(r, c) for c in SELECT_COLUMNS] for r in rows])
        notes = ["* = on the Pareto frontier (no faster model is more accurate)"]
        if any(not r["top1_source"].startswith("published") and r["top1"] is not None for r in rows):
            notes.append("~ = the fp32 model's top-1 (this int8 model's is not measured)")
        notes.append("latency that ranks: measured here > published table > estimated")
        for precision, counts in tables.items():
            if len(counts) > 1:
                notes.append(f"  {precision} figures mix {len(counts)} tables/eras: "
                             + "; ".join(f"{t} ({n})" for t, n in counts.items()))
        flagged = [r for r in rows if r["disagreement"]]
        if flagged:
            notes.append("! = the figure that ranks lies outside the estimate's interval:")
            notes += [f"  {r['model']}: {r['disagreement']}" for r in flagged]
        return "\n".join([table, *notes])

    emit({"profile": profile, "threads": threads, "max_latency_ms": max_latency_ms, "max_storage_mb": max_storage_mb,
          "models": shown, "latency_tables": table_mix([c for c in candidates if c.fits or show_all]),
          "ranking": "measured here > published table > estimated", "plot": plot},
         as_json, lambda data: render(data["models"], data["latency_tables"]))
