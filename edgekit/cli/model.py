"""``edgekit export``, ``convert`` and ``predict``: one model through the pipeline's stages."""

from __future__ import annotations

from typing import Optional

import click

from edgekit.cli._common import PRETRAINED_HELP, description_options, pretrained_arg, emit, json_option, \
    open_workspace, workspace_option


@click.command()
@click.argument("model")
@click.option("--pretrained", help=PRETRAINED_HELP)
@click.option("--input-size", default="224", show_default=True, metavar="S|HxW",
              help="Input size: the side of a square, or height x width (e.g. 48x192).")
@click.option("--onnx", is_flag=True, help="Also write model.onnx (paddle2onnx), checked with onnxruntime.")
@click.option("--force", is_flag=True, help="Export again even when the workspace has this export.")
@workspace_option
@json_option
def export(model: str, pretrained: Optional[str], input_size: str, onnx: bool, force: bool,
           workspace: Optional[str], as_json: bool) -> None:
    """Export a zoo MODEL to a Paddle inference model (inference.pdmodel/.pdiparams)."""
    from edgekit.description import parse_hw
    from edgekit.export import export_model

    height, width = parse_hw(input_size)
    result = export_model(model, open_workspace(workspace), pretrained=pretrained_arg(pretrained),
                          input_size=height if height == width else (height, width), onnx=onnx, force=force)
    emit(result.to_dict(), as_json, lambda d: (
        f"{'reused' if d['reused'] else 'exported'} {d['name']} "
        f"(input {'x'.join(map(str, d['input_shape']))}) in {d['directory']}"
        + (f"\nONNX (checked against Paddle Inference): {d['onnx_file']}" if d["onnx_file"] else "")))


@click.command()
@click.argument("model_or_dir", metavar="MODEL_OR_DIR")
@click.option("--target", default="arm", show_default=True,
              help="opt target from opt_configs/targets.yaml (arm, x86, opencl or 'opencl,arm').")
@click.option("--fp16", is_flag=True, help="opt's --enable_fp16 (ARM fp16 kernels).")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@click.option("--force", is_flag=True, help="Run opt again even when the workspace has this .nb.")
@description_options
@workspace_option
@json_option
def convert(model_or_dir: str, target: str, fp16: bool, pretrained: Optional[str], force: bool,
            workspace: Optional[str], as_json: bool, overrides: object) -> None:
    """Convert a zoo model, MODEL_int8, an inference-model folder or a .onnx file to a Paddle Lite .nb with opt.
    The model's description (preprocessing, labels) is stored in the .nb's manifest."""
    from edgekit.convert import convert_model

    result = convert_model(model_or_dir, open_workspace(workspace), target=target, fp16=fp16,
                           pretrained=pretrained_arg(pretrained), overrides=overrides, force=force)
    emit(result.to_dict(), as_json, lambda d: (
        f"{'reused' if d['reused'] else 'converted'} {d['name']} for {d['target']} ({d['valid_targets']}"
        f"{', fp16' if d['fp16'] else ''}): {d['nb_path']} ({d['bytes']} bytes, {d['mib']:.2f} MiB)"))


@click.command()
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--model", "model", required=True, metavar="MODEL_OR_NB",
              help="A zoo name, MODEL_int8, an inference-model folder, a .onnx file, or an x86 .nb file.")
@click.option("--topk", type=int, help="Classes shown per image [default: the deploy config's "
                                        "PostProcess.Topk.topk, else 5].")
@click.option("--threads", default=1, show_default=True, type=int, help="CPU threads of the x86 runtime.")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@description_options
@workspace_option
@json_option
def predict(images: tuple[str, ...], model: str, topk: Optional[int], threads: int, pretrained: Optional[str],
            workspace: Optional[str], as_json: bool, overrides: object) -> None:
    """Classify IMAGEs on this machine with Paddle Lite's x86 runtime: top-k classes, preprocessed
    and labelled as the model's description says (zoo: ImageNet; folder: its deploy config)."""
    from edgekit.predict import format_predictions, predict_images

    result = predict_images(list(images), model, open_workspace(workspace), topk=topk, threads=threads,
                            pretrained=pretrained_arg(pretrained), overrides=overrides)
    emit(result.to_dict(), as_json, lambda _: format_predictions(result))
