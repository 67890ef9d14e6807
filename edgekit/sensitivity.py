"""Layer sensitivity: how much quantizing each layer hurts, from ONE calibration.

For every layer PaddleSlim quantized, the layer alone is made int8 (its weights as PaddleSlim stored
them, its input through its calibrated quantize/dequantize pair; every other layer and activation
float) and run beside the float program on the same images:

- ``rmse_over_scale``: the rmse of the layer's output against fp32, in int8 steps of that output
  (its abs-max over the images / 127). The TFLite QuantizationDebugger's health signal: plain
  rounding gives about 0.3; its tutorial keeps float what goes above about 0.7.
- ``cosine``, ``top1_agreement`` (and ``top1`` with labels): the effect on the model's output.

Layers are ranked by ``1 - cosine`` of the model's output (continuous, so a few images rank
them), most sensitive first. Weights and input are what keeping a layer float gives back:
quantize.py makes a skipped layer read its input unquantized (program.float_inputs).

``ProgramVariants`` also gives the program "the int8 model with these
layers float", which is what ``quant_post_static(skip_tensor_list=...)`` saves from the same
calibration, followed by program.float_inputs, up to the order of a few quantize ops (PaddleSlim
drops the weight's dequantize op and keeps every activation scale; logits agree to ~1e-3), so
tuning.py searches on it without re-calibrating and measures the model it finally builds again.

Why not ``paddleslim.quant.analysis.Analysis``: it runs one ``quant_post_static`` per layer (about
8 minutes for 33 layers of a real model here, against one calibration for this loop), works in
PaddleSlim 2.6.0 only with ``onnx_format=False`` (a NameError with True, the format edgekit
ships), crashes on ``quant_config=None`` and calibrates with its own defaults (algo avg) instead
of the preset being tuned. The variants are made on the ProgramDesc protobuf, as legalize.py
makes its fixes, and run by paddle's public static Executor.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from edgekit import calibration
from edgekit._paddle import error_gist, import_paddle, quiet_tools
from edgekit.errors import InvalidInputError, ToolError, UsageError
from edgekit.artifacts import InferenceModel
from edgekit.fidelity import cosine
from edgekit.legalize import framework_pb2, read_program
from edgekit.program import DEQUANTIZED, QDQ_OPS, WEIGHT_SLOTS, Layer, feed_name, float_inputs, remove_unread_pairs, \
    weight_layers
from edgekit.ptq import static_mode
from edgekit.quantize import QuantizedModel

FLOAT_SUFFIX = "@edgekit_fp32"  # a layer's float weight, added beside PaddleSlim's int8 one
INT8_LEVELS = 127
# Images the analysis runs on at most (each costs one forward pass per layer).
MAX_ANALYSIS_IMAGES = 64
# fp32 layer outputs held in memory at once (the layers are analysed in groups that fit).
MAX_CACHED_BYTES = 256 << 20
# Samples run at once by the derived programs.
BATCH = 32


# ---------------------------------------------------------------------------- program variants


def _arguments(slots: Any, parameter: str) -> list[str]:
    return next((list(s.arguments) for s in slots if s.parameter == parameter), [])


@dataclasses.dataclass(frozen=True)
class QuantizedLayer:
    """A layer of the fp32 program and how the int8 program feeds it."""

    layer: Layer
    activation: Optional[str]  # the float activation whose quantize/dequantize pair feeds the layer

    @property
    def name(self) -> str:
        return self.layer.name


class ProgramVariants:
    """Programs derived from one int8 program: some layers' weights float, some activation
    quantize/dequantize pairs bypassed. All run in one scope holding the int8 parameters plus
    each layer's fp32 weight under ``<weight>@edgekit_fp32``."""

    def __init__(self, fp32: InferenceModel, int8: InferenceModel):
        self.fp32 = fp32
        self.int8 = int8
        self._desc = read_program(int8.model_file)
        fp32_program = read_program(fp32.model_file)
        self.feed = feed_name(fp32_program)
        self.output = self._fetch_target(self._desc)
        self.layers = self._quantized_layers(weight_layers(fp32_program))
        self._scope = None
        self._executor = None
        self._cache: dict[int, Any] = {}
        self._batched = True

    @staticmethod
    def _fetch_target(desc: Any) -> str:
        fetches = [op for op in desc.blocks[0].ops if op.type == "fetch"]
        if len(fetches) != 1:
            raise ToolError(f"the int8 program has {len(fetches)} outputs; the analysis needs one")
        return _arguments(fetches[0].inputs, "X")[0]

    def _quantized_layers(self, layers: Sequence[Layer]) -> list[QuantizedLayer]:
        """The fp32 layers whose weight the int8 program dequantizes, found by their output."""
        by_output = {}
        for op in self._desc.blocks[0].ops:
            if op.type in WEIGHT_SLOTS:
                outputs = tuple(a for s in op.outputs for a in s.arguments)
                by_output[outputs] = op
        found = []
        for layer in layers:
            op = by_output.get(layer.outputs)
            if op is None:
                continue
            weight_in = _arguments(op.inputs, WEIGHT_SLOTS[op.type])
            if weight_in != [layer.weight + DEQUANTIZED]:
                continue  # left float by PaddleSlim (op type not quantized, or skipped)
            activation = next((a[: -len(DEQUANTIZED)] for s in op.inputs if s.parameter != WEIGHT_SLOTS[op.type]
                               for a in s.arguments if a.endswith(DEQUANTIZED)), None)
            found.append(QuantizedLayer(layer, activation))
        return found

    # -- building variants

    def variant(self, float_weights: Iterable[str] = (), *, only_activation_of: Optional[str] = None,
                all_activations_float: bool = False) -> Any:
        """A ProgramDesc: the int8 program with ``float_weights`` (weight names) read as fp32;
        with ``all_activations_float`` every activation pair bypassed, except (with
        ``only_activation_of``, a layer's weight name) that layer's input pair."""
        pb2 = framework_pb2()
        desc = pb2.ProgramDesc()
        desc.CopyFrom(self._desc)
        block = desc.blocks[0]
        float_weights = set(float_weights)
        float_inputs(desc, sorted(float_weights))  # as quantize.py saves a skipped layer
        persistable = {v.name for v in block.vars if v.persistable}
        kept_op = None
        for op in block.ops:
            slot = WEIGHT_SLOTS.get(op.type)
            weight_in = _arguments(op.inputs, slot) if slot else []
            is_kept = bool(weight_in) and weight_in[0] == f"{only_activation_of}{DEQUANTIZED}"
            if is_kept:
                kept_op = op
            for inputs in op.inputs:
                for i, name in enumerate(inputs.arguments):
                    if not name.endswith(DEQUANTIZED):
                        continue
                    source = name[: -len(DEQUANTIZED)]
                    if source in persistable:
                        if source in float_weights and inputs.parameter == slot:
                            inputs.arguments[i] = source + FLOAT_SUFFIX
                    elif all_activations_float and not (is_kept and op.type not in QDQ_OPS):
                        inputs.arguments[i] = source
        if only_activation_of is not None and kept_op is None:
            raise UsageError(f"layer {only_activation_of} is not quantized in {self.int8.name}")
        self._add_float_weights(block, float_weights)
        _prune(block, keep={self.output})
        for var in block.vars:
            if var.name == self.feed and var.type.lod_tensor.tensor.dims:
                var.type.lod_tensor.tensor.dims[0] = -1  # any batch (see run_batch)
        return desc

    @staticmethod
    def _add_float_weights(block: Any, weights: set[str]) -> None:
        existing = {v.name: v for v in block.vars}
        pb2 = framework_pb2()
        for weight in sorted(weights):
            var = block.vars.add()
            var.CopyFrom(existing[weight])
            var.name = weight + FLOAT_SUFFIX
            var.type.lod_tensor.tensor.data_type = pb2.VarType.FP32

    # -- running variants

    def _ensure_scope(self) -> None:
        if self._scope is not None:
            return
        paddle = import_paddle()
        with static_mode():
            self._executor = paddle.static.Executor(paddle.CPUPlace())
            self._scope = paddle.static.Scope()
            fp32_scope = paddle.static.Scope()
            try:
                with paddle.static.scope_guard(self._scope):
                    _load(paddle, self.int8, self._executor)
                with paddle.static.scope_guard(fp32_scope):
                    _load(paddle, self.fp32, self._executor)
            except Exception as e:  # paddle's enforce errors
                raise ToolError(f"cannot load {self.int8.directory} for the layer analysis: {error_gist(e)}") from None
            for quantized in self.layers:
                weight = np.array(fp32_scope.find_var(quantized.layer.weight).get_tensor())
                self._scope.var(quantized.layer.weight + FLOAT_SUFFIX).get_tensor().set(weight, paddle.CPUPlace())

    def run(self, desc: Any, sample: np.ndarray, fetch: Sequence[str] = ()) -> list[np.ndarray]:
        """Outputs (batch of 1) of a variant for one CHW sample: the model's output, then ``fetch``."""
        return self.run_batch(desc, sample[None], fetch)

    def run_batch(self, desc: Any, samples: np.ndarray, fetch: Sequence[str] = ()) -> list[np.ndarray]:
        """Outputs of a variant for samples (N, C, H, W), N first: the model's output, then ``fetch``.

        The variants declare a free batch size, and BATCH samples run at once (about 4x faster
        than one by one); a program that cannot (a reshape to a fixed batch of 1, say) is run
        one sample at a time from then on."""
        paddle = import_paddle()
        self._ensure_scope()
        key = id(desc)
        if key not in self._cache:
            with static_mode():
                self._cache[key] = (desc, paddle.static.Program.parse_from_string(desc.SerializeToString()))
        program = self._cache[key][1]
        step = BATCH if self._batched else 1
        chunks = []
        for start in range(0, len(samples), step):
            chunk = np.ascontiguousarray(samples[start:start + step], dtype=np.float32)
            outputs = self._execute(program, chunk, fetch)
            if step > 1 and outputs is not None and any(o.shape[:1] != (len(chunk),) for o in outputs):
                outputs = None
            if outputs is None:  # batched run failed or folded the batch: one sample at a time
                self._batched = False
                return self.run_batch(desc, samples, fetch)
            chunks.append(outputs)
        return [np.concatenate(parts) for parts in zip(*chunks)]

    def _execute(self, program: Any, chunk: np.ndarray, fetch: Sequence[str]) -> Optional[list[np.ndarray]]:
        with static_mode():
            try:
                outputs = self._executor.run(program, feed={self.feed: chunk}, fetch_list=[self.output, *fetch],
                                             scope=self._scope, return_numpy=True, use_program_cache=True)
            except Exception as e:  # paddle's enforce errors
                if len(chunk) > 1:
                    return None
                raise ToolError(f"a derived program of {self.int8.name} failed to run: {error_gist(e)}") from None
        return [np.asarray(o) for o in outputs]

    def weight_elements(self, weight: str) -> int:
        """How many values a layer's weight holds (1 byte each int8, 4 float)."""
        self._ensure_scope()
        return int(np.array(self._scope.find_var(weight).get_tensor()).size)

    def forget(self, desc: Any) -> None:
        self._cache.pop(id(desc), None)


def _load(paddle: Any, model: InferenceModel, executor: Any) -> None:
    """Load a model's parameters into the current scope (paddle warns on stderr when the files are
    named apart from a common prefix: quiet_tools hides that)."""
    with quiet_tools():
        if model.params_file == model.model_file.with_suffix(".pdiparams"):
            paddle.static.load_inference_model(str(model.model_file.with_suffix("")), executor)
        else:
            paddle.static.load_inference_model(str(model.directory), executor, model_filename=model.model_file.name,
                                               params_filename=model.params_file.name)


def _prune(block: Any, keep: set[str]) -> None:
    """Drop feed/fetch ops (the Executor adds its own) and pairs nobody reads any more."""
    for index in reversed(range(len(block.ops))):
        if block.ops[index].type in ("feed", "fetch"):
            del block.ops[index]
    remove_unread_pairs(block, keep=sorted(keep))


# ---------------------------------------------------------------------------------- analysis


@dataclasses.dataclass
class _Tally:
    squared_error: float = 0.0
    values: int = 0
    absmax: float = 0.0
    cosines: list = dataclasses.field(default_factory=list)
    agree: int = 0
    hits: int = 0


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """The ranked analysis: one entry per quantized layer, most sensitive first."""

    model: str
    int8_model: str
    images: dict
    layers: list[dict]
    fp32: dict
    int8: dict
    seconds: float

    def ranking(self) -> list[str]:
        return [entry["layer"] for entry in self.layers]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def analyze(fp32: InferenceModel, base: QuantizedModel, images: calibration.ImageSet, *,
            variants: Optional[ProgramVariants] = None) -> Sensitivity:
    """Rank the layers ``base`` quantized by their sensitivity, on ``images`` (their labels are
    used when every image has one)."""
    started = time.perf_counter()
    variants = variants or ProgramVariants(fp32, base.model)
    if not variants.layers:
        raise UsageError(f"{base.model.name} has no int8 layer to analyze")
    preprocess = calibration.preprocess_for(fp32.described())
    labelled = all(v.label is not None for v in images.views)
    weights = {q.layer.weight for q in variants.layers}
    reference = variants.variant(weights, all_activations_float=True)
    whole = variants.variant()
    views = images.views
    samples = calibration.tensors(images, preprocess)
    labels = np.array([v.label if labelled else -1 for v in views])
    # Program by program over every image: paddle's Executor caches only 8 compiled programs.
    ref_logits = variants.run_batch(reference, samples)[0].reshape(len(samples), -1)
    int8_logits = variants.run_batch(whole, samples)[0].reshape(len(samples), -1)
    variants.forget(whole)
    tallies = {}
    for group in _groups(variants.layers, samples, variants, reference):
        names = [q.layer.outputs[0] for q in group]
        ref_outs = variants.run_batch(reference, samples, names)[1:]
        for ref_out, quantized in zip(ref_outs, group):
            single = variants.variant(weights - {quantized.layer.weight}, only_activation_of=quantized.layer.weight,
                                      all_activations_float=True)
            logits, out = variants.run_batch(single, samples, [quantized.layer.outputs[0]])
            variants.forget(single)
            logits = logits.reshape(len(samples), -1)
            tallies[quantized.layer.weight] = _Tally(
                squared_error=float(np.sum((out.astype(np.float64) - ref_out) ** 2)), values=ref_out.size,
                absmax=float(np.max(np.abs(ref_out))), cosines=[cosine(r, q) for r, q in zip(ref_logits, logits)],
                agree=int(np.sum(ref_logits.argmax(1) == logits.argmax(1))),
                hits=int(np.sum(logits.argmax(1) == labels)))
    fp32_hits = int(np.sum(ref_logits.argmax(1) == labels))
    int8_hits = int(np.sum(int8_logits.argmax(1) == labels))
    int8_agree = int(np.sum(ref_logits.argmax(1) == int8_logits.argmax(1)))
    int8_cosines = [cosine(r, q) for r, q in zip(ref_logits, int8_logits)]
    count = len(images)
    entries = []
    for quantized in variants.layers:
        tally = tallies[quantized.layer.weight]
        rmse = (tally.squared_error / max(tally.values, 1)) ** 0.5
        step = tally.absmax / INT8_LEVELS
        entry = {
            "layer": quantized.name, "weight": quantized.layer.weight, "op_type": quantized.layer.op_type,
            "input": quantized.activation,
            "rmse_over_scale": rmse / step if step > 0 else 0.0,
            "cosine": float(np.mean(tally.cosines)), "cosine_min": float(np.min(tally.cosines)),
            "top1_agreement": tally.agree / count,
            "weight_bytes_fp32": 4 * variants.weight_elements(quantized.layer.weight),
            "weight_bytes_int8": variants.weight_elements(quantized.layer.weight),
        }
        if labelled:
            entry["top1"] = tally.hits / count
        entries.append(entry)
    entries.sort(key=lambda e: (e["cosine"], e["top1_agreement"], -e["rmse_over_scale"]))
    for rank, entry in enumerate(entries, start=1):
        entry["rank"] = rank
    fp32_summary = {"top1": fp32_hits / count} if labelled else {}
    int8_summary = {"cosine": float(np.mean(int8_cosines)), "top1_agreement": int8_agree / count,
                    **({"top1": int8_hits / count} if labelled else {})}
    described = {"source": images.source, "count": len(images), "available": images.available,
                 **({"note": images.note} if images.note else {}), "labelled": labelled}
    return Sensitivity(fp32.name, base.model.name, described, entries, fp32_summary, int8_summary,
                       time.perf_counter() - started)


def _groups(layers: Sequence[QuantizedLayer], samples: np.ndarray, variants: ProgramVariants,
            reference: Any) -> list[list[QuantizedLayer]]:
    """Layers in groups whose fp32 outputs on every image fit MAX_CACHED_BYTES together."""
    sizes = [out.nbytes * len(samples)
             for out in variants.run(reference, samples[0], [q.layer.outputs[0] for q in layers])[1:]]
    groups: list[list[QuantizedLayer]] = [[]]
    total = 0
    for quantized, size in zip(layers, sizes):
        if groups[-1] and total + size > MAX_CACHED_BYTES:
            groups.append([])
            total = 0
        groups[-1].append(quantized)
        total += size
    return groups


# ---------------------------------------------------------------------------------- chart


def plot(sensitivity: Sensitivity, path: Path) -> Path:
    """A bar chart PNG: 1 - cosine of the model's output per layer (ranked), with rmse/scale."""
    # A bare Agg canvas, as report.py draws: the caller's matplotlib backend stays as it was.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    entries = sensitivity.layers
    names = [e["layer"] for e in entries]
    drops = [1.0 - e["cosine"] for e in entries]
    ratios = [e["rmse_over_scale"] for e in entries]
    height = max(3.0, 0.28 * len(entries) + 1.5)
    fig = Figure(figsize=(11, height))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, sharey=True)
    left.barh(names, drops, color="tab:red")
    left.set_xlabel("1 - cosine of the model output (only this layer int8)")
    left.invert_yaxis()
    right.barh(names, ratios, color="tab:blue")
    right.axvline(0.7, color="gray", linestyle="--", linewidth=1)
    right.set_xlabel("layer output rmse / int8 step")
    fig.suptitle(f"{sensitivity.model}: layer sensitivity on {sensitivity.images['count']} images")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial.png")
    try:
        fig.savefig(tmp, dpi=100)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write the chart {path}: {e.strerror or e}") from None
    return path
