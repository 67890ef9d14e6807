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
@click.option("--round-type", type=click.Choice(["round", "adaround"]),
              help="Weight rounding: round, or adaround (AdaRound learned on the calibration images).")
@click.option("--bias-correction/--no-bias-correction", default=None,
              help="Correct the bias shift caused by weight rounding (PaddleSlim bias_correction).")
@click.option("--recon-level", type=click.Choice(["layer-wise", "region-wise"]),
              help="Reconstruct with PaddleSlim quant_recon_static: layer-wise (AdaRound) or region-wise (BRECQ).")
@click.option("--simulate-activation-quant/--no-simulate-activation-quant", default=None,
              help="With --recon-level: drop activation quantization at random while reconstructing (QDrop).")
@click.option("--skip", "skip_patterns", multiple=True, metavar="PATTERN",
              help="Keep layers float: fnmatch on layer name (conv2d_62, linear_0), weight or output name. "
                   "Repeatable.")
@click.option("--analyze", is_flag=True,
              help="Rank the layers by how much quantizing each alone hurts (on --tune-dir, else the calibration "
                   "images): a table, or JSON with --json.")
@click.option("--plot", type=click.Path(dir_okay=False), metavar="FILE.png", help="With --analyze: a bar chart PNG.")
@click.option("--tune-dir", type=click.Path(), metavar="DIR",
              help="Images the choices are made on (tuning, --analyze); never calibration or eval images.")
@click.option("--max-drop", type=float, metavar="PTS",
              help="Accuracy target: keep the most sensitive layers float until int8 top-1 on the labelled "
                   "--tune-dir is within PTS points of fp32.")
@click.option("--min-agreement", type=float, metavar="PCT",
              help="Accuracy target without labels: int8 top-1 equals fp32's on at least PCT%% of --tune-dir.")
@click.option("--max-float-layers", type=int, metavar="N", help="Keep at most N layers float for the target.")
@click.option("--force", is_flag=True, help="Quantize again even when the workspace has this artifact.")
@description_options
@workspace_option
@json_option
def quantize(model: str, pretrained: Optional[str], preset: Optional[str], calib_dir: Optional[str],
             eval_dir: Optional[str], algo: Optional[str], hist_percent: Optional[float], batch_size: Optional[int],
             batch_nums: Optional[int], weight_quantize_type: Optional[str], quantizable_op_type: Optional[str],
             onnx_format: Optional[bool], round_type: Optional[str], bias_correction: Optional[bool],
             recon_level: Optional[str], simulate_activation_quant: Optional[bool],
             skip_patterns: tuple[str, ...], analyze: bool, plot: Optional[str],
             tune_dir: Optional[str], max_drop: Optional[float], min_agreement: Optional[float],
             max_float_layers: Optional[int], force: bool, workspace: Optional[str], as_json: bool,
             overrides: object) -> None:
    """Post-training int8 quantization (PaddleSlim quant_post_static) of a zoo MODEL or an
    inference-model folder, into MODEL_int8, with a fidelity report (Paddle Inference).

    With an accuracy target (--max-drop or --min-agreement, and --tune-dir) the most sensitive layers
    stay float until the target is met on the tune images; exit code 6 when it cannot be met (the
    report still names the best model found)."""
    from pathlib import Path

    from edgekit.quant_config import DEFAULT_PRESET, QuantConfig
    from edgekit.errors import UsageError
    from edgekit.quant_report import format_analysis, format_report
    from edgekit.quantize import quantize_model
    from edgekit.resolve import resolve_float_model

    config = QuantConfig.from_preset(
        preset or DEFAULT_PRESET, algo=algo, hist_percent=hist_percent, batch_size=batch_size, batch_nums=batch_nums,
        weight_quantize_type=weight_quantize_type, quantizable_op_type=quantizable_op_type,
        onnx_format=onnx_format, round_type=round_type, bias_correction=bias_correction, recon_level=recon_level,
        simulate_activation_quant=simulate_activation_quant, skip_patterns=skip_patterns or None)
    opened = open_workspace(workspace)
    fp32 = resolve_float_model(model, opened, pretrained=pretrained_arg(pretrained), overrides=overrides)
    path = lambda p: Path(p) if p else None  # noqa: E731
    targeted = max_drop is not None or min_agreement is not None or max_float_layers is not None
    if plot and not analyze:
        raise UsageError("--plot needs --analyze")
    if plot and not Path(plot).expanduser().resolve().parent.is_dir():
        raise UsageError(f"--plot {plot}: folder {Path(plot).expanduser().resolve().parent} does not exist")
    if analyze and targeted:
        raise UsageError("--analyze ranks layers; give the accuracy target in a run of its own")
    if analyze and eval_dir:
        raise UsageError("--analyze takes no --eval-dir")
    if analyze or targeted or tune_dir:
        from edgekit import tuning

        if analyze:
            base, sensitivity = tuning.analyze_model(fp32, opened, config,
                                                     calib_dir=path(calib_dir), tune_dir=path(tune_dir),
                                                     force=force)
            data = {"model": fp32.name, "int8_model": base.model.name, "artifact": str(base.model.directory),
                    "analysis": sensitivity.to_dict()}
            if plot:
                from edgekit.sensitivity import plot as plot_chart

                data["plot"] = str(plot_chart(sensitivity, Path(plot)))
            emit(data, as_json, lambda _: format_analysis(sensitivity, data.get("plot")))
            return
        if tune_dir is None:
            raise UsageError("an accuracy target needs --tune-dir DIR (images used for the choices)")
        target = tuning.Target(max_drop=max_drop, min_agreement=min_agreement, max_float_layers=max_float_layers)
        tuned = tuning.tune_model(fp32, opened, config, target, calib_dir=path(calib_dir),
                                  tune_dir=path(tune_dir), eval_dir=path(eval_dir), force=force)
        emit(tuned.result.to_dict(), as_json, lambda _: format_report(tuned.result))
        if not tuned.target_met:
            click.echo(f"edgekit: accuracy target not met ({tuned.result.report['tuning']['target_text']}); "
                       f"best model found: {tuned.result.model.directory}", err=True)
            click.get_current_context().exit(tuning.TARGET_NOT_MET_EXIT)
        return
    result = quantize_model(fp32, opened, config, calib_dir=path(calib_dir), eval_dir=path(eval_dir), force=force)
    emit(result.to_dict(), as_json, lambda _: format_report(result))
