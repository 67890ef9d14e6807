"""Quantize: Paddle inference model → PaddleSlim post-training static int8 model (``MODEL_int8``).

``quantize_model`` calls ``paddleslim.quant.quant_post_static`` with the settings of a
``QuantConfig`` (PaddleSlim's own argument names; presets in ``opt_configs/quant_presets.yaml``),
calibrates on images preprocessed as PaddleClas evaluates, and writes the artifact
``quantize/<MODEL>_int8/<key>/`` (``inference.pdmodel``, ``inference.pdiparams``,
``quant_report.json``). The report says what was quantized, on which images, how long it took,
and how close the int8 program stays to fp32 (both run by Paddle Inference; see fidelity.py and
calibration.py for which images are held out).

Modules of the quantize stage, one concern each, imported one way (top to bottom):
quant_config (settings, presets) and program (layers of a program, --skip) → ptq (the PaddleSlim
call) → quant_eval (fidelity, --eval-dir) → quantize (this orchestration: plan, build, reuse) →
quant_report (text).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from edgekit import calibration
from edgekit import image_roles
from edgekit.errors import InvalidInputError, UsageError
from edgekit.artifacts import MODEL_FILE, InferenceModel, Pretrained, Source, load_inference_model, looks_like_path, \
    tool_version
from edgekit.legalize import is_quantized_program, read_program
from edgekit.program import Layer, feed_name, float_inputs, quantized_weights, resolve_skip_patterns, weight_layers
from edgekit.ptq import check_op_types, paddleslim_arguments, run_quant_post_static
from edgekit.quant_config import DEFAULT_PRESET, QuantConfig, preset_overrides
from edgekit.quant_eval import EvalPlan, held_out_fidelity
from edgekit.reference import int8_name, split_int8
from edgekit.workspace import Workspace, atomic_write_bytes, atomic_write_text, building, write_manifest

STAGE = "quantize"
REPORT_FILE = "quant_report.json"
# Calibration images used at most when batch_nums is not set (PaddleSlim's hist keeps a histogram per
# activation; more images sharpen it little and cost time linearly).
MAX_CALIBRATION_IMAGES = 256
# Bump when the quantization recipe (not its settings) changes, so old artifacts are rebuilt.
# 2: the stored report's fidelity is always on the held-out photographs; evaluations are not stored.
# 3: calibration and fidelity follow the model's description; held-out images come from --calib-dir.
# 4: layers kept float (--skip, tuning) read their input unquantized (program.float_inputs).
QUANT_RECIPE = 4


# ---------------------------------------------------------------------------------- artifact


@dataclasses.dataclass(frozen=True)
class QuantizedModel:
    """The int8 inference model and its quantization report."""

    model: InferenceModel
    report: dict
    reused: bool

    def to_dict(self) -> dict:
        return {**self.report, "artifact": self.model.to_dict(), "reused": self.reused}


def quantize_model(source: Source, workspace: Workspace, config: Optional[QuantConfig] = None, *,
                   calib_dir: Optional[Path] = None, eval_dir: Optional[Path] = None,
                   pretrained: Pretrained = None, force: bool = False) -> QuantizedModel:
    """Quantize a zoo model (exported on demand), an inference model folder, or an InferenceModel.

    The artifact is reused when the source, the settings and the calibration images are the
    same (``force`` rebuilds). ``eval_dir`` adds an ``eval`` section (top-1/top-5 of both models,
    their agreement) to the returned report; it is measured for this call and never stored in the
    artifact, which stays as it was built.
    """
    config = config or QuantConfig.from_preset(DEFAULT_PRESET)
    fp32 = resolve_source(source, workspace, pretrained=pretrained)
    plan = _plan(fp32, config, calib_dir)
    evaluation = EvalPlan.load(fp32, eval_dir) if eval_dir is not None else None  # bad folders fail now
    roles = image_roles.check_disjoint({"calibration": plan.calibration,
                                        "eval": evaluation.images if evaluation else None}) if evaluation else None
    name = int8_name(fp32.name)
    found = None if force else workspace.find(STAGE, name, plan.settings)
    result = _reuse(found) if found is not None else _quantize(fp32, config, plan, workspace, name)
    if evaluation is None:
        return result
    calibration_digests = set(plan.inputs["calibration_images"].values())
    report = {**result.report, "eval": evaluation.run(result.model, calibration_digests), "images": roles}
    return dataclasses.replace(result, report=report)


def _quantize(fp32: InferenceModel, config: QuantConfig, plan: "_Plan", workspace: Workspace,
              name: str) -> QuantizedModel:
    started = time.perf_counter()
    # decoded before any folder exists: an unreadable image stops the run with nothing written
    samples = calibration.tensors(plan.calibration, calibration.preprocess_for(fp32.described()))
    final = workspace.artifact_dir(STAGE, name, plan.settings)
    with building(final) as tmp:
        report = _build(fp32, config, plan, samples, tmp, started=started)
        write_manifest(tmp, stage=STAGE, model=name, settings=plan.settings, inputs=plan.inputs,
                       tools=report["tools"], description=fp32.described().to_dict())
    return QuantizedModel(load_inference_model(final), report, reused=False)


def resolve_source(source: Source, workspace: Workspace, *, pretrained: Pretrained = None) -> InferenceModel:
    """The float model to quantize: an InferenceModel as it is (commands pass what edgekit.resolve
    made of their MODEL, description flags applied), a folder, or a zoo name (exported); refusing
    int8 names and programs that are quantized already."""
    if isinstance(source, InferenceModel):
        model = source
        if pretrained is not None and pretrained is not False:
            raise UsageError(f"--pretrained applies to zoo model names, not to the inference model {model.name}")
    elif isinstance(source, Path) or Path(source).expanduser().exists() or looks_like_path(str(source)):
        if pretrained is not None and pretrained is not False:
            raise UsageError(f"--pretrained applies to zoo model names, not to the inference model {source}")
        model = load_inference_model(Path(source))
    else:
        base, is_int8 = split_int8(source)
        if is_int8:
            raise UsageError(f"{source} is already quantized: it is what 'edgekit quantize {base}' builds")
        from edgekit.export import export_model

        model = export_model(source, workspace, pretrained=pretrained)
    if is_quantized_program(read_program(model.model_file)):
        raise UsageError(f"{model.name} ({model.model_file}) is already quantized")
    return model


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything decided before PaddleSlim runs: images, layers kept float, the artifact key."""

    calibration: calibration.ImageSet
    layers: tuple[Layer, ...]
    skipped: dict
    feed: str
    settings: dict
    inputs: dict


def _plan(fp32: InferenceModel, config: QuantConfig, calib_dir: Optional[Path]) -> _Plan:
    batch = fp32.input_shape[0] if fp32.input_shape else -1
    if batch > 0 and config.batch_size != batch:
        raise UsageError(f"batch_size {config.batch_size} does not fit {fp32.name}, whose input batch is fixed "
                         f"at {batch} (input shape {tuple(fp32.input_shape)})")
    calibration.preprocess_for(fp32.described())  # refuses non-image inputs, sizes missing, before any work
    check_op_types(config.quantizable_op_type)
    program = read_program(fp32.model_file)
    layers = tuple(weight_layers(program))
    if not any(config.is_full_quantize or layer.op_type in config.quantizable_op_type for layer in layers):
        raise InvalidInputError(f"{fp32.name} has no layer to quantize: no {', '.join(config.quantizable_op_type)} "
                                "operator with weights")
    skipped = resolve_skip_patterns(layers, config.skip_patterns)
    # batch_nums None: every image the user gave, up to the stated cap
    count = MAX_CALIBRATION_IMAGES if config.batch_nums is None else config.batch_size * config.batch_nums
    images = calibration.calibration_set(calib_dir, count)
    digests = calibration.file_digests([v.path for v in images.views])
    identity = fp32.identity()
    settings = {
        **config.to_dict(),
        "skip_tensors": sorted({w for names in skipped.values() for w in names}),
        "calibration_sha256": digests,
        "source": identity,
        "description": fp32.described().digest(),
        "recipe": QUANT_RECIPE,
        "paddleslim": tool_version("paddleslim"),
        "paddle": tool_version("paddlepaddle"),
    }
    inputs = {**identity, "weights": fp32.weights,
              "calibration_images": dict(zip(map(str, (v.path for v in images.views)), digests))}
    return _Plan(images, layers, skipped, feed_name(program), settings, inputs)


def _build(fp32: InferenceModel, config: QuantConfig, plan: _Plan, samples: np.ndarray, folder: Path, *,
           started: float) -> dict:
    prepared = time.perf_counter()
    arguments = paddleslim_arguments(fp32, config, plan.settings["skip_tensors"])
    run_quant_post_static(fp32.name, folder, arguments, samples, plan.feed, fp32.input_shape, config.batch_size)
    float_layers_read_float_inputs(folder / MODEL_FILE, plan.settings["skip_tensors"])
    quantized = time.perf_counter()
    int8_model = load_inference_model(folder)
    fidelity = held_out_fidelity(fp32, int8_model, plan.calibration)
    finished = time.perf_counter()
    report = {
        "model": int8_name(fp32.name),
        "source_model": {"name": fp32.name, "directory": str(fp32.directory), **fp32.identity(),
                         "weights": fp32.weights},
        "preset": config.preset,
        "preset_overrides": preset_overrides(config),
        "settings": config.to_dict(),
        "paddleslim_arguments": {k: v for k, v in arguments.items() if k not in ("model_dir",)},
        "description": fp32.described().summary(),  # the preprocessing calibration and fidelity used
        "calibration": {**plan.calibration.describe(), "limit": (
            f"every image given, up to {MAX_CALIBRATION_IMAGES} (batch_nums unset)" if config.batch_nums is None
            else f"batch_size x batch_nums = {config.batch_size * config.batch_nums} images")},
        "layers": _layer_report(plan.layers, int8_model, config, plan.skipped),
        "sizes": {"fp32_params_bytes": fp32.params_file.stat().st_size,
                  "int8_params_bytes": int8_model.params_file.stat().st_size},
        "seconds": {"preprocess": prepared - started, "paddleslim": quantized - prepared,
                    "fidelity": finished - quantized, "total": finished - started},
        "tools": {"paddleslim": tool_version("paddleslim"), "paddlepaddle": tool_version("paddlepaddle")},
        "fidelity": fidelity,
    }
    note = _weights_note(fp32)
    if note:
        report["note"] = note
    atomic_write_text(folder / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


def float_layers_read_float_inputs(model_file: Path, skipped_weights: Sequence[str]) -> None:
    """Apply program.float_inputs to the saved program (see there why)."""
    if not skipped_weights:
        return
    program = read_program(model_file)
    if float_inputs(program, skipped_weights):
        atomic_write_bytes(model_file, program.SerializeToString())


def _weights_note(fp32: InferenceModel) -> Optional[str]:
    if fp32.random_weights:
        return "random weights: fidelity figures describe a random network; accuracy is meaningless"
    return None


def _reuse(folder: Path) -> QuantizedModel:
    int8_model = load_inference_model(folder, reused=True)
    try:
        report = json.loads((folder / REPORT_FILE).read_text())
    except (OSError, ValueError):
        report = {"model": int8_model.name, "note": f"{REPORT_FILE} missing or unreadable in {folder}"}
    return QuantizedModel(int8_model, report, reused=True)


def _layer_report(layers: Sequence[Layer], int8_model: InferenceModel, config: QuantConfig,
                  skipped: dict) -> dict:
    done = quantized_weights(read_program(int8_model.model_file))
    by_pattern = {w: p for p, names in skipped.items() for w in names}
    int8_types: dict[str, int] = {}
    kept_float = []
    for layer in layers:
        if layer.weight in done:
            int8_types[layer.op_type] = int8_types.get(layer.op_type, 0) + 1
            continue
        if layer.weight in by_pattern:
            reason = f"--skip {by_pattern[layer.weight]}"
        elif layer.op_type not in config.quantizable_op_type and not config.is_full_quantize:
            reason = f"{layer.op_type} not in quantizable_op_type"
        else:
            reason = "left float by PaddleSlim"
        kept_float.append({"layer": layer.name, "weight": layer.weight, "op_type": layer.op_type, "reason": reason})
    resolved = {pattern: [w.split(".", 1)[0] for w in names] for pattern, names in skipped.items()}
    return {"total": len(layers), "int8": sum(int8_types.values()), "int8_by_type": int8_types,
            "float": len(kept_float), "kept_float": kept_float, "skip_resolved": resolved}

