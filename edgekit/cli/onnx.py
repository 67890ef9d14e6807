"""``edgekit import``: an ONNX model → a Paddle inference model (X2Paddle), checked by onnxruntime."""

from __future__ import annotations

from typing import Optional

import click

from edgekit.cli._common import emit, json_option, open_workspace, workspace_option


@click.command("import")
@click.argument("onnx_file", metavar="MODEL.onnx", type=click.Path(dir_okay=False))
@click.option("--config", type=click.Path(dir_okay=False),
              help="PaddleClas deploy config (PreProcess.transform_ops, PostProcess.Topk) [default: one beside "
                   "the file].")
@click.option("--input-size", metavar="HxW", help="Height x width to fix a dynamic input to (e.g. 48x192).")
@click.option("--labels", type=click.Path(dir_okay=False), help="Label file: 'id name' per line (class_id_map_file).")
@click.option("--force", is_flag=True, help="Convert again even when the workspace has this import.")
@workspace_option
@json_option
def import_onnx(onnx_file: str, config: Optional[str], input_size: Optional[str], labels: Optional[str],
                force: bool, workspace: Optional[str], as_json: bool) -> None:
    """Convert MODEL.onnx to a Paddle inference model with X2Paddle and check it against onnxruntime.

    Every other command also takes MODEL.onnx and imports it on the way; the result is kept in
    the workspace (import/) and reused."""
    from pathlib import Path

    from edgekit.description import DescriptionOverrides, parse_hw
    from edgekit.onnx_import import import_onnx as run_import

    overrides = DescriptionOverrides(config=Path(config) if config else None,
                                     input_size=parse_hw(input_size) if input_size else None,
                                     labels=Path(labels) if labels else None)
    result = run_import(onnx_file, open_workspace(workspace), overrides=overrides, force=force)
    emit(result.to_dict(), as_json, _render)


def _render(d: dict) -> str:
    check = d["check"]
    shape = "x".join(map(str, d["input_shape"]))
    adapted = {key: value for key, value in d["adaptations"].items() if key not in ("fixed_input", "fused")}
    changed = ", ".join(f"{key} {value}" for key, value in {**adapted, **d["adaptations"].get("fused", {})}.items()
                        if value)
    return (f"{'reused' if d['reused'] else 'imported'} {d['name']} (input {shape}) in {d['directory']}\n"
            f"checked against onnxruntime on {len(check['inputs'])} inputs: same top-1, max relative difference "
            f"{check['max_rel_diff']:.2g} (tolerance {check['rtol']:g})"
            + (f"\nadapted (X2Paddle in, Paddle ops out): {changed}" if changed else ""))
