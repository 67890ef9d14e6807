"""``edgekit quantize``: PaddleSlim post-training int8."""

from __future__ import annotations

from typing import Optional

import click

from edgekit.cli._common import PRETRAINED_HELP, description_options, pretrained_arg, emit, json_option, \
    open_workspace, workspace_option


@click.command()
@click.argument("model")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@click.option("--preset", default=None, metavar="NAME",
              help="Settings from opt_configs/quant_presets.yaml [default: paddleclas, the seed's int8 recipe; "
                   "full quantizes every layer].")
@click.option("--calib-dir", type=click.Path(), metavar="DIR",
              help="Calibration images (flat or class folders) [default: the photographs shipped with edgekit].")
@click.option("--eval-dir", type=click.Path(), metavar="DIR",
              help="Labelled images (class-id or synset folders, or val_list.txt): top-1/top-5 of fp32 and int8.")
@click.option("--algo", help="PaddleSlim algo: hist, KL, avg, mse, emd, abs_max.")
@click.option("--hist-percent", type=float, help="Percentile of algo hist.")
@click.option("--batch-size", type=int, help="Calibration batch size (models exported by edgekit take 1).")
@click.option("--batch-nums", type=int, help="Calibration batches; 0 = every image.")
@click.option("--weight-quantize-type", help="channel_wise_abs_max or abs_max.")
@click.option("--quantizable-op-type", metavar="OPS", help="Comma-separated op types, e.g. conv2d,depthwise_conv2d.")
@click.option("--onnx-format/--no-onnx-format", default=None,
              help="quantize_linear/dequantize_linear ops (PaddleSlim 2.6's default) or fake-quant ops.")
@click.option("--skip", "skip_patterns", multiple=True, metavar="PATTERN",
              help="Keep layers float: fnmatch on layer name (conv2d_62, linear_0), weight or output name. "
                   "Repeatable.")
@click.option("--force", is_flag=True, help="Quantize again even when the workspace has this artifact.")
@description_options
@workspace_option
@json_option
def quantize(model: str, pretrained: Optional[str], preset: Optional[str], calib_dir: Optional[str],
             eval_dir: Optional[str], algo: Optional[str], hist_percent: Optional[float], batch_size: Optional[int],
             batch_nums: Optional[int], weight_quantize_type: Optional[str], quantizable_op_type: Optional[str],
             onnx_format: Optional[bool], skip_patterns: tuple[str, ...], force: bool, workspace: Optional[str],
             as_json: bool, overrides: object) -> None:
    """Post-training int8 quantization (PaddleSlim quant_post_static) of a zoo MODEL or an
    inference-model folder, into MODEL_int8, with a fidelity report (Paddle Inference)."""
    from pathlib import Path

    from edgekit.quant_config import DEFAULT_PRESET, QuantConfig
    from edgekit.quant_report import format_report
    from edgekit.quantize import quantize_model
    from edgekit.resolve import resolve_float_model

    config = QuantConfig.from_preset(
        preset or DEFAULT_PRESET, algo=algo, hist_percent=hist_percent, batch_size=batch_size, batch_nums=batch_nums,
        weight_quantize_type=weight_quantize_type, quantizable_op_type=quantizable_op_type,
        onnx_format=onnx_format, skip_patterns=skip_patterns or None)
    opened = open_workspace(workspace)
    fp32 = resolve_float_model(model, opened, pretrained=pretrained_arg(pretrained), overrides=overrides)
    result = quantize_model(fp32, opened, config, calib_dir=Path(calib_dir) if calib_dir else None,
                            eval_dir=Path(eval_dir) if eval_dir else None, force=force)
    emit(result.to_dict(), as_json, lambda _: format_report(result))
