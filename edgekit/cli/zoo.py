"""``edgekit models``, ``info`` and ``zoo build``: the model zoo and the seed table."""

from __future__ import annotations

from typing import Optional

import click

from edgekit.cli._common import emit, json_option, open_workspace, workspace_option


MODEL_COLUMNS = ("name", "family", "top1", "top5", "flops_g", "params_m", "sd855_ms", "storage_mb")


@click.command()
@click.option("--family", help="Only this family (MobileNetV1, MobileNetV2, MobileNetV3, ShuffleNetV2).")
@click.option("--sort", "sort_by", default=None, metavar="COLUMN",
              help="Sort by a column (name, top1, flops_g, params_m, sd855_ms, storage_mb, ...).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@json_option
def models(family: Optional[str], sort_by: Optional[str], reverse: bool, as_json: bool) -> None:
    """List the 32 PaddleClas mobile models with the reference values of PaddleClas's table."""
    from edgekit import reference
    from edgekit._table import format_table
    from edgekit.errors import UsageError

    rows = list(reference.reference_models())
    if family:
        known = reference.families()
        matched = [f for f in known if f.lower() == family.lower()]
        if not matched:
            raise UsageError(f"unknown family {family!r} (known: {', '.join(known)})")
        rows = [r for r in rows if r.family == matched[0]]
    if sort_by:
        columns = ("name", "family") + reference.NUMERIC_COLUMNS
        if sort_by not in columns:
            raise UsageError(f"cannot sort by {sort_by!r} (columns: {', '.join(columns)})")
        present = [r for r in rows if getattr(r, sort_by) is not None]
        missing = [r for r in rows if getattr(r, sort_by) is None]
        rows = sorted(present, key=lambda r: getattr(r, sort_by), reverse=reverse) + missing
    elif reverse:
        rows.reverse()

    emit(
        [r.to_dict() for r in rows],
        as_json,
        lambda data: format_table(MODEL_COLUMNS, [[d[c] for c in MODEL_COLUMNS] for d in data]),
    )


@click.command()
@click.argument("model")
@json_option
def info(model: str, as_json: bool) -> None:
    """Reference values of MODEL plus figures computed from the built network: trainable
    parameters, MACs at 1x3x224x224 and the table's FLOPs / MACs ratio."""
    from edgekit import zoo

    details = zoo.model_info(model)
    emit(details.to_dict(), as_json, lambda _: details.to_text())



@click.group("zoo")
def zoo_group() -> None:
    """Work on many zoo models at once."""


@zoo_group.command("build")
@click.argument("models", nargs=-1, metavar="[MODEL...]")
@click.option("--all", "all_models", is_flag=True, help="The 32 models of PaddleClas's table.")
@click.option("--int8", is_flag=True, help="Also quantize each model (MODEL_int8, default preset).")
@click.option("--target", default="arm", show_default=True, help="opt target (opt_configs/targets.yaml).")
@click.option("--jobs", type=int, default=None, help="Models built in parallel [default: CPUs, at most 4].")
@click.option("--force", is_flag=True, help="Rebuild every artifact, even those in the workspace.")
@workspace_option
@json_option
def zoo_build(models: tuple[str, ...], all_models: bool, int8: bool, target: str, jobs: Optional[int],
              force: bool, workspace: Optional[str], as_json: bool) -> None:
    """Export (quantize) and convert many models in parallel; compare .nb sizes with the seed table."""
    from edgekit import zoo_build as builder
    from edgekit.errors import ToolError

    names = builder.select_models(models, all_models=all_models, int8=int8)
    result = builder.zoo_build(names, open_workspace(workspace), target=target, jobs=jobs, force=force)
    emit(result.to_dict(), as_json, lambda _: builder.format_build(result))
    failed = [o.model for o in result.outcomes if not o.ok]
    if failed:
        raise ToolError(f"{len(failed)} of {len(result.outcomes)} models failed: {', '.join(failed)}")
