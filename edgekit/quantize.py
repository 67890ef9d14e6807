"""Quantize: Paddle inference model → PaddleSlim post-training static int8 model (``MODEL_int8``).

``quantize_model`` calls ``paddleslim.quant.quant_post_static`` with the settings of a
``QuantConfig`` (PaddleSlim's own argument names; presets in ``opt_configs/quant_presets.yaml``),
calibrates on images preprocessed as PaddleClas evaluates, and writes the artifact
``quantize/<MODEL>_int8/<key>/`` (``inference.pdmodel``, ``inference.pdiparams``,
``quant_report.json``). The report says what was quantized, on which images, how long it took,
and how close the int8 program stays to fp32 (both run by Paddle Inference; see fidelity.py and
calibration.py for which images are held out).

PaddleSlim runs in this process: it is plain Python over paddle's executor (no crash-prone native
tool), and re-importing paddle in a child would cost several seconds per model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from edgekit import calibration
from edgekit._paddle import error_gist, import_paddle, quiet_tools
from edgekit.config import config_dir, load_config
from edgekit.errors import ConfigError, EdgekitError, InvalidInputError, QuantizationError, UsageError
from edgekit.export import MODEL_FILE, PARAMS_FILE, InferenceModel, Pretrained, Source, load_inference_model, \
    looks_like_path, resolve_inference_model, tool_version
from edgekit.legalize import is_quantized_program, read_program
from edgekit.reference import int8_name, split_int8
from edgekit.workspace import Workspace, atomic_write_text, building, write_manifest

STAGE = "quantize"
REPORT_FILE = "quant_report.json"
PRESETS_CONFIG = "quant_presets"
DEFAULT_PRESET = "paddleclas"
# Image paths listed in a report's held-out section (an evaluation set may hold thousands).
LISTED_IMAGES = 100
# Bump when the quantization recipe (not its settings) changes, so old artifacts are rebuilt.
# 2: the stored report's fidelity is always on the held-out photographs; evaluations are not stored.
QUANT_RECIPE = 2

ALGOS = ("hist", "KL", "avg", "mse", "emd", "abs_max")
WEIGHT_QUANTIZE_TYPES = ("channel_wise_abs_max", "abs_max")
ACTIVATION_QUANTIZE_TYPES = ("range_abs_max", "moving_average_abs_max", "abs_max")
ROUND_TYPES = ("round", "adaround")
DEPLOY_BACKENDS = (None, "tensorrt", "mkldnn", "arm")
# Operators that carry weights, with the input slot holding them (PaddleSlim's weight-op table).
WEIGHT_SLOTS = {"conv2d": "Filter", "depthwise_conv2d": "Filter", "conv2d_transpose": "Filter",
                "mul": "Y", "matmul": "Y", "matmul_v2": "Y"}
FAKE_DEQUANT_OPS = frozenset({"fake_dequantize_max_abs", "fake_channel_wise_dequantize_max_abs"})


# ------------------------------------------------------------------------------ configuration


@dataclasses.dataclass(frozen=True)
class QuantConfig:
    """Arguments of ``paddleslim.quant.quant_post_static``, in its vocabulary.

    ``skip_patterns`` keep matching layers in float (see ``resolve_skip_patterns``);
    ``batch_nums=None`` (or 0) calibrates on every image; ``preset`` records where the values came from.
    """

    algo: str = "hist"
    hist_percent: float = 0.9999
    batch_size: int = 1
    batch_nums: Optional[int] = 10
    weight_quantize_type: str = "channel_wise_abs_max"
    activation_quantize_type: str = "range_abs_max"
    quantizable_op_type: tuple[str, ...] = ("conv2d", "depthwise_conv2d", "mul")
    is_full_quantize: bool = False
    weight_bits: int = 8
    activation_bits: int = 8
    onnx_format: bool = True
    round_type: str = "round"
    bias_correction: bool = False
    optimize_model: bool = False
    deploy_backend: Optional[str] = None
    skip_patterns: tuple[str, ...] = ()
    preset: Optional[str] = None

    def __post_init__(self) -> None:
        # Normalize what users type ("kl", a list of ops) into PaddleSlim's exact spelling.
        spelled = {a.lower(): a for a in ALGOS}
        if isinstance(self.algo, str) and self.algo.lower() in spelled:
            object.__setattr__(self, "algo", spelled[self.algo.lower()])
        object.__setattr__(self, "quantizable_op_type", _as_tuple(self.quantizable_op_type, "quantizable_op_type"))
        object.__setattr__(self, "skip_patterns", _as_tuple(self.skip_patterns, "skip"))
        if self.batch_nums == 0:  # "every image", which PaddleSlim spells None
            object.__setattr__(self, "batch_nums", None)
        _validate(self)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "QuantConfig":
        """The preset ``name`` of opt_configs/quant_presets.yaml, with ``overrides`` (None = keep)."""
        values = preset_values(name)
        try:
            base = cls(**values, preset=name)
        except UsageError as e:
            raise ConfigError(f"preset {name!r} in {PRESETS_CONFIG}.yaml: {e}") from None
        changes = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise UsageError(f"unknown quantization setting(s) {', '.join(unknown)}")
        return dataclasses.replace(base, **changes)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["quantizable_op_type"] = list(self.quantizable_op_type)
        data["skip_patterns"] = list(self.skip_patterns)
        return data


def preset_overrides(config: QuantConfig) -> dict:
    """The settings of ``config`` that differ from its preset's (empty without a preset)."""
    if config.preset is None:
        return {}
    base = QuantConfig.from_preset(config.preset).to_dict()
    return {k: v for k, v in config.to_dict().items() if base.get(k) != v}


def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{what} must be a list of names, not {value!r}")
    return tuple(value)


def _validate(config: QuantConfig) -> None:
    def choice(field: str, allowed: Sequence) -> None:
        value = getattr(config, field)
        if value not in allowed:
            known = ", ".join(str(a) for a in allowed)
            raise UsageError(f"unknown {field} {value!r} (PaddleSlim accepts: {known})")

    choice("algo", ALGOS)
    choice("weight_quantize_type", WEIGHT_QUANTIZE_TYPES)
    choice("activation_quantize_type", ACTIVATION_QUANTIZE_TYPES)
    choice("round_type", ROUND_TYPES)
    choice("deploy_backend", DEPLOY_BACKENDS)
    if not isinstance(config.hist_percent, (int, float)) or not 0 < config.hist_percent <= 1:
        raise UsageError(f"hist_percent must be in (0, 1], not {config.hist_percent!r}")
    if not _positive_int(config.batch_size):
        raise UsageError(f"batch_size must be a positive integer, not {config.batch_size!r}")
    if config.batch_nums is not None and not _positive_int(config.batch_nums):
        raise UsageError(f"batch_nums must be a positive integer (or none for all images), not {config.batch_nums!r}")
    for field in ("weight_bits", "activation_bits"):
        if not _positive_int(getattr(config, field)) or getattr(config, field) > 16:
            raise UsageError(f"{field} must be an integer from 1 to 16, not {getattr(config, field)!r}")
    if config.weight_bits != config.activation_bits:
        raise UsageError("weight_bits and activation_bits must be equal (PaddleSlim supports no other case)")
    if not config.quantizable_op_type and not config.is_full_quantize:
        raise UsageError("quantizable_op_type is empty: nothing would be quantized")
    for field in ("is_full_quantize", "onnx_format", "bias_correction", "optimize_model"):
        if not isinstance(getattr(config, field), bool):
            raise UsageError(f"{field} must be true or false, not {getattr(config, field)!r}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def presets() -> dict[str, dict]:
    """Every preset of opt_configs/quant_presets.yaml: name → its mapping (with description)."""
    data = load_config(PRESETS_CONFIG)
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"preset {name!r} in {PRESETS_CONFIG}.yaml must be a mapping")
    return data


def preset_values(name: str) -> dict:
    """The QuantConfig fields a preset sets (its description left out); ConfigError if unknown."""
    entries = presets()
    if name not in entries:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(sorted(entries))}; "
                          f"defined in {config_dir() / (PRESETS_CONFIG + '.yaml')})")
    values = {k: v for k, v in entries[name].items() if k != "description"}
    fields = {f.name for f in dataclasses.fields(QuantConfig)} - {"preset"}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"preset {name!r} in {PRESETS_CONFIG}.yaml has unknown key(s) {', '.join(unknown)}")
    return values


# --------------------------------------------------------------------------- program facts


@dataclasses.dataclass(frozen=True)
class Layer:
    """An operator with weights: what PaddleSlim can quantize and ``--skip`` can keep float."""

    op_type: str
    weight: str  # the parameter's name, e.g. conv2d_62.w_0
    outputs: tuple[str, ...]

    @property
    def name(self) -> str:
        """The layer name Paddle gave the parameter: ``conv2d_62`` for ``conv2d_62.w_0``."""
        return self.weight.split(".", 1)[0]

    def matches(self, pattern: str) -> bool:
        names = (self.name, self.weight, *self.outputs, *(o.split(".", 1)[0] for o in self.outputs))
        return any(fnmatch.fnmatchcase(n, pattern) for n in names)


def _arguments(slots: Any, parameter: str) -> list[str]:
    return next((list(s.arguments) for s in slots if s.parameter == parameter), [])


def _persistable(program: Any) -> set[str]:
    return {v.name for block in program.blocks for v in block.vars if v.persistable}


def weight_layers(program: Any) -> list[Layer]:
    """Operators of ``program`` (a ProgramDesc) whose weight input is a parameter, in order."""
    persistable = _persistable(program)
    layers = []
    for op in program.blocks[0].ops:
        slot = WEIGHT_SLOTS.get(op.type)
        weights = [w for w in _arguments(op.inputs, slot)] if slot else []
        if weights and weights[0] in persistable:
            outputs = tuple(a for s in op.outputs for a in s.arguments)
            layers.append(Layer(op.type, weights[0], outputs))
    return layers


def quantized_weights(program: Any) -> set[str]:
    """Names of the weights stored int8 in a program saved by PaddleSlim (either format).

    ONNX format: the weight reaches its operator through a ``dequantize_linear`` of the stored
    parameter. Fake-quant format: the operator's output goes through a fake dequantize op.
    """
    ops = list(program.blocks[0].ops)
    dequantized = {}  # dequantize_linear output -> its parameter input
    fake_dequant_inputs = set()
    for op in ops:
        if op.type == "dequantize_linear":
            for out in _arguments(op.outputs, "Y"):
                dequantized[out] = _arguments(op.inputs, "X")[0]
        elif op.type in FAKE_DEQUANT_OPS:
            fake_dequant_inputs.update(_arguments(op.inputs, "X"))
    persistable = _persistable(program)
    found = set()
    for op in ops:
        slot = WEIGHT_SLOTS.get(op.type)
        for weight in _arguments(op.inputs, slot) if slot else []:
            if dequantized.get(weight) in persistable:
                found.add(dequantized[weight])
            elif weight in persistable and fake_dequant_inputs.intersection(
                    a for s in op.outputs for a in s.arguments):
                found.add(weight)
    return found


def feed_name(program: Any) -> str:
    feeds = [op for op in program.blocks[0].ops if op.type == "feed"]
    if not feeds:
        raise InvalidInputError("the program has no feed operator: not an inference program")
    return _arguments(feeds[0].outputs, "Out")[0]


def resolve_skip_patterns(layers: Sequence[Layer], patterns: Sequence[str]) -> dict[str, list[str]]:
    """pattern → weight names of the layers it keeps float; UsageError for a pattern matching none.

    A pattern (fnmatch, case-sensitive) is tried on the layer name (``conv2d_62``, ``linear_0``:
    the stem of the weight's name), the weight name (``conv2d_62.w_0``) and the name of the
    layer's output tensor (``conv2d_47.tmp_0``).
    """
    resolved = {}
    for pattern in patterns:
        matched = [layer.weight for layer in layers if layer.matches(pattern)]
        if not matched:
            examples = ", ".join(layer.name for layer in list(layers)[-3:])
            raise UsageError(f"--skip {pattern!r} matches no layer with weights (layer names look like {examples})")
        resolved[pattern] = matched
    return resolved


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
    evaluation = _EvalPlan.load(fp32, eval_dir) if eval_dir is not None else None  # bad folders fail now
    name = int8_name(fp32.name)
    found = None if force else workspace.find(STAGE, name, plan.settings)
    result = _reuse(found) if found is not None else _quantize(fp32, config, plan, workspace, name)
    if evaluation is None:
        return result
    calibration_digests = set(plan.inputs["calibration_images"].values())
    report = {**result.report, "eval": evaluation.run(result.model, calibration_digests)}
    return dataclasses.replace(result, report=report)


def _quantize(fp32: InferenceModel, config: QuantConfig, plan: "_Plan", workspace: Workspace,
              name: str) -> QuantizedModel:
    started = time.perf_counter()
    # decoded before any folder exists: an unreadable image stops the run with nothing written
    samples = calibration.tensors(plan.calibration, calibration.preprocess_for(fp32.input_shape))
    final = workspace.artifact_dir(STAGE, name, plan.settings)
    with building(final) as tmp:
        report = _build(fp32, config, plan, samples, tmp, started=started)
        write_manifest(tmp, stage=STAGE, model=name, settings=plan.settings, inputs=plan.inputs,
                       tools=report["tools"])
    return QuantizedModel(load_inference_model(final), report, reused=False)


def resolve_source(source: Source, workspace: Workspace, *, pretrained: Pretrained = None) -> InferenceModel:
    """The float model to quantize: what ``resolve_inference_model`` makes of ``source``, refusing
    int8 names and programs that are quantized already."""
    if isinstance(source, str) and not looks_like_path(source) and not Path(source).exists():
        base, is_int8 = split_int8(source)
        if is_int8:
            raise UsageError(f"{source} is already quantized: it is what 'edgekit quantize {base}' builds")
    model = resolve_inference_model(source, workspace, pretrained=pretrained)
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
    calibration.preprocess_for(fp32.input_shape)  # refuses non-image inputs before any work
    _check_op_types(config.quantizable_op_type)
    program = read_program(fp32.model_file)
    layers = tuple(weight_layers(program))
    skipped = resolve_skip_patterns(layers, config.skip_patterns)
    count = None if config.batch_nums is None else config.batch_size * config.batch_nums
    images = calibration.calibration_set(calib_dir, count)
    digests = calibration.file_digests([v.path for v in images.views])
    identity = fp32.identity()
    settings = {
        **config.to_dict(),
        "skip_tensors": sorted({w for names in skipped.values() for w in names}),
        "calibration_sha256": digests,
        "source": identity,
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
    quantized = time.perf_counter()
    int8_model = load_inference_model(folder)
    fidelity = held_out_fidelity(fp32, int8_model, set(plan.inputs["calibration_images"].values()))
    finished = time.perf_counter()
    report = {
        "model": int8_name(fp32.name),
        "source_model": {"name": fp32.name, "directory": str(fp32.directory), **fp32.identity(),
                         "weights": fp32.weights},
        "preset": config.preset,
        "preset_overrides": preset_overrides(config),
        "settings": config.to_dict(),
        "paddleslim_arguments": {k: v for k, v in arguments.items() if k not in ("model_dir",)},
        "calibration": plan.calibration.describe(),
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
    return {"total": len(layers), "int8": sum(int8_types.values()), "int8_by_type": int8_types,
            "float": len(kept_float), "kept_float": kept_float}


# ---------------------------------------------------------------------------------- PaddleSlim


def paddleslim_arguments(fp32: InferenceModel, config: QuantConfig, skip_tensors: Sequence[str]) -> dict:
    """Keyword arguments of ``quant_post_static`` (all but executor, output path and data)."""
    return {
        "model_dir": str(fp32.directory),
        "model_filename": fp32.model_file.name,
        "params_filename": fp32.params_file.name,
        "save_model_filename": MODEL_FILE,
        "save_params_filename": PARAMS_FILE,
        "batch_size": config.batch_size,
        "batch_nums": config.batch_nums,
        "algo": config.algo,
        "round_type": config.round_type,
        "hist_percent": config.hist_percent,
        "bias_correction": config.bias_correction,
        "quantizable_op_type": list(config.quantizable_op_type),
        "is_full_quantize": config.is_full_quantize,
        "weight_bits": config.weight_bits,
        "activation_bits": config.activation_bits,
        "activation_quantize_type": config.activation_quantize_type,
        "weight_quantize_type": config.weight_quantize_type,
        "optimize_model": config.optimize_model,
        "onnx_format": config.onnx_format,
        "skip_tensor_list": list(skip_tensors) or None,
        "deploy_backend": config.deploy_backend,
    }


@contextlib.contextmanager
def static_mode() -> Iterator[None]:
    """Paddle's static-graph mode for the block, then the mode the caller had."""
    paddle = import_paddle()

    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        yield
    finally:
        if was_dynamic:
            paddle.disable_static()


def calibration_loader(samples: np.ndarray, feed: str, input_shape: Sequence[int], batch_size: int) -> Any:
    """A ``paddle.io.DataLoader`` over preprocessed samples, feeding variable ``feed``.

    Paddle 2.6's post-training quantization accepts only a DataLoader (its sample/batch
    generator arguments are no longer read). The samples are decoded beforehand on purpose:
    an exception raised inside a static-mode DataLoader hangs it instead of propagating.
    """
    paddle = import_paddle()

    class _Samples(paddle.io.Dataset):
        def __len__(self) -> int:
            return len(samples)

        def __getitem__(self, index: int) -> tuple[np.ndarray]:
            return (samples[index],)

    holder = paddle.static.Program()
    with paddle.static.program_guard(holder, paddle.static.Program()):
        variable = paddle.static.data(feed, [-1, *input_shape[1:]], "float32")
    return paddle.io.DataLoader(_Samples(), feed_list=[variable], places=paddle.CPUPlace(), batch_size=batch_size,
                                return_list=False, shuffle=False, drop_last=False, use_buffer_reader=False)


def run_quant_post_static(model_name: str, destination: Path, arguments: dict, samples: np.ndarray,
                          feed: str, input_shape: Sequence[int], batch_size: int) -> None:
    """Call ``paddleslim.quant.quant_post_static`` in a scope of its own; QuantizationError on failure."""
    paddle = import_paddle()
    from paddleslim.quant import quant_post_static  # its loggers exist from here on: quiet_tools() finds them

    with static_mode(), quiet_tools():
        scope = paddle.static.Scope()
        executor = paddle.static.Executor(paddle.CPUPlace())
        loader = calibration_loader(samples, feed, input_shape, batch_size)
        with paddle.static.scope_guard(scope):
            try:
                quant_post_static(executor=executor, quantize_model_path=str(destination), data_loader=loader,
                                  scope=scope, **arguments)
            except EdgekitError:
                raise
            except Exception as e:  # PaddleSlim and paddle raise AssertionError, ValueError, enforce errors
                raise QuantizationError(f"PaddleSlim quant_post_static failed on {model_name}: {error_gist(e)}") from None
    for produced in (MODEL_FILE, PARAMS_FILE):
        if not (destination / produced).is_file():
            raise QuantizationError(f"PaddleSlim quant_post_static wrote no {produced} for {model_name}")


def _check_op_types(op_types: Sequence[str]) -> None:
    import_paddle()
    from paddle.static.quantization.quant_config import SUPPORT_QUANTIZATION_OP_DICT

    unknown = [t for t in op_types if t not in SUPPORT_QUANTIZATION_OP_DICT]
    if unknown:
        raise UsageError(f"quantizable_op_type {', '.join(unknown)} not supported by PaddleSlim "
                         f"(weight ops: {', '.join(WEIGHT_SLOTS)})")


# ------------------------------------------------------------------------------------ fidelity


def held_out_fidelity(fp32: InferenceModel, int8_model: InferenceModel, calibration_digests: set[str]) -> dict:
    """The stored report's ``fidelity`` section: both models on the shipped photographs (mirrored
    where they were calibration images; see calibration.held_out_set)."""
    from edgekit import fidelity

    images, overlaps = calibration.held_out_set(calibration_digests)
    measured = fidelity.measure(fidelity.PaddlePredictor(fp32.model_file, fp32.params_file),
                                fidelity.PaddlePredictor(int8_model.model_file, int8_model.params_file),
                                images, calibration.preprocess_for(fp32.input_shape))
    measured.pop("accuracy", None)
    measured.pop("labelled_images", None)
    return {**measured, "held_out": images.describe(limit=LISTED_IMAGES), "overlaps_calibration": overlaps}


@dataclasses.dataclass(frozen=True)
class _EvalPlan:
    """A labelled evaluation folder, read (and checked) before any quantization work."""

    fp32: InferenceModel
    folder: Path
    images: calibration.ImageSet
    fp32_run: Any  # fidelity.PaddlePredictor of the float model, reused for the evaluation

    @classmethod
    def load(cls, fp32: InferenceModel, eval_dir: Path) -> "_EvalPlan":
        from edgekit import fidelity

        fp32_run = fidelity.PaddlePredictor(fp32.model_file, fp32.params_file)
        num_classes = int(fp32_run(np.zeros(fp32.input_shape[1:], np.float32)).size)
        folder = Path(eval_dir).expanduser().resolve()
        return cls(fp32, folder, calibration.eval_set(folder, num_classes), fp32_run)

    def run(self, int8_model: InferenceModel, calibration_digests: set[str]) -> dict:
        """The ``eval`` section: top-1/top-5 of both models, their agreement and cosine."""
        from edgekit import fidelity

        overlap = calibration.count_overlap(calibration_digests, self.images)
        measured = fidelity.measure(self.fp32_run,
                                    fidelity.PaddlePredictor(int8_model.model_file, int8_model.params_file),
                                    self.images, calibration.preprocess_for(self.fp32.input_shape))
        accuracy = measured.pop("accuracy")
        labelled = measured.pop("labelled_images")
        note = (f"{overlap} evaluation image(s) are also calibration images" if overlap
                else "no evaluation image is a calibration image")
        return {"dir": str(self.folder), "images": labelled, **accuracy, "labels": self.images.note,
                "overlaps_calibration": overlap > 0, "note": note, **measured}


# ------------------------------------------------------------------------------------ text


def format_report(result: QuantizedModel) -> str:
    """The text ``edgekit quantize`` prints."""
    report = result.report
    lines = [f"{result.model.name}{'  (reused)' if result.reused else ''}",
             f"  artifact     {result.model.directory}"]
    settings = report.get("settings", {})
    if settings:
        lines.append(f"  preset       {report.get('preset') or '(none)'}: algo {settings['algo']}, "
                     f"weights {settings['weight_quantize_type']}, ops {', '.join(settings['quantizable_op_type'])}")
    layers = report.get("layers")
    if layers:
        kept = ", ".join(f"{k['layer']} ({k['reason']})" for k in layers["kept_float"][:4])
        more = f", +{layers['float'] - 4} more" if layers["float"] > 4 else ""
        lines.append(f"  layers       {layers['int8']} of {layers['total']} int8"
                     + (f"; float: {kept}{more}" if kept else ""))
    if "calibration" in report:
        lines.append(f"  calibration  {report['calibration']['count']} images from {report['calibration']['source']}")
    fid = report.get("fidelity")
    if fid and fid.get("images"):
        lines.append(f"  fidelity     top-1 agreement {fid['top1_agreement']:.3f}, cosine mean {fid['cosine_mean']:.4f} "
                     f"(min {fid['cosine_min']:.4f}) on {fid['images']} held-out images")
        lines.append(f"               {fid['held_out'].get('note', '')}")
    ev = report.get("eval")
    if ev:
        lines.append(f"  eval         {ev['images']} images of {ev['dir']}: fp32 top-1 {ev['fp32']['top1']:.4f} top-5 "
                     f"{ev['fp32']['top5']:.4f} | int8 top-1 {ev['int8']['top1']:.4f} top-5 {ev['int8']['top5']:.4f}")
        lines.append(f"               top-1 agreement {ev['top1_agreement']:.3f}; {ev['labels']}; {ev['note']}")
    sizes = report.get("sizes")
    if sizes:
        lines.append(f"  weights      {sizes['fp32_params_bytes'] / 1e6:.2f} MB fp32 -> "
                     f"{sizes['int8_params_bytes'] / 1e6:.2f} MB int8 (.pdiparams)")
    seconds = report.get("seconds")
    if seconds:
        lines.append(f"  time         {seconds['total']:.1f} s (PaddleSlim {seconds['paddleslim']:.1f} s, "
                     f"fidelity {seconds['fidelity']:.1f} s)")
    if report.get("note"):
        lines.append(f"  note         {report['note']}")
    return "\n".join(lines)
