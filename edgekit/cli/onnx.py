"""``edgekit import``: an ONNX model → a Paddle inference model (X2Paddle), checked by onnxruntime."""

from __future__ import annotations

from typing import Any, Optional

import click

from edgekit.cli._common import description_options, emit, json_option, open_workspace, workspace_option


@click.command("import")
@click.argument("onnx_file", metavar="MODEL.onnx", type=click.Path(dir_okay=False))
@description_options
@click.option("--force", is_flag=True, help="Convert again even when the workspace has this import.")
@workspace_option
@json_option
def import_onnx(onnx_file: str, overrides: Any, force: bool, workspace: Optional[str], as_json: bool) -> None:
    """Convert MODEL.onnx to a Paddle inference model with X2Paddle and check it against onnxruntime.

    Every other command also takes MODEL.onnx and imports it on the way; the result is kept in
    the workspace (import/) and reused. The description (--config, or a deploy config beside the
    file, then the single-field flags) says how the check's images are preprocessed and, for a
    dynamic height/width, the size the model is fixed to."""
    from edgekit.onnx_import import import_onnx as run_import

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
