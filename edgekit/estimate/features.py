"""What a model asks of a phone's CPU, per kind of operator: MACs, bytes moved, operator count.

Read from the Paddle program (the ProgramDesc protobuf, through ``edgekit.legalize.read_program``;
paddle itself is not imported): every variable carries its shape, so each operator's work follows
from its inputs, outputs and weights at the model's input size. Kinds follow what Paddle Lite's ARM
kernels do differently: k×k convolution, 1×1 convolution, depthwise convolution, fully connected
(matmul, and 1×1 convolutions on a 1×1 map after the last global pooling), pooling, elementwise,
activations that opt fuses into the convolution before them (relu, relu6) and those it runs as
kernels of their own, squeeze-and-excitation blocks (their pooling, small convolutions and
channel scaling) and data movement (reshape, transpose, concat, split).

An operator is int8 when its weights reach it through PaddleSlim's dequantize operator (or, in
PaddleSlim's older format, its output is dequantized), or, for a zoo model's ``NAME_int8`` built
with a preset, when the preset quantizes its type. Quantize/dequantize pairs on activations alone
do not make an operator int8: PaddleSlim puts them around every operator's output.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from edgekit.errors import InvalidInputError

FP32 = "fp32"
INT8 = "int8"

KINDS = ("conv_kxk", "conv_1x1", "dwconv", "fc", "pool", "elementwise", "act_fused", "act", "se", "movement")
QUANTITIES = ("macs", "bytes", "ops")

# Operator types of each kind (convolutions and fc are told apart by their shapes below).
_CONV_OPS = frozenset({"conv2d", "depthwise_conv2d", "fused_conv2d"})
_FC_OPS = frozenset({"matmul", "matmul_v2", "mul", "fc"})
_POOL_OPS = frozenset({"pool2d", "max_pool2d_with_index"})
_ELEMENTWISE_OPS = frozenset({"elementwise_add", "elementwise_mul", "elementwise_sub", "elementwise_div",
                              "scale", "sum", "softmax", "clip"})
_FUSED_ACT_OPS = frozenset({"relu", "relu6", "leaky_relu"})
_ACT_OPS = frozenset({"hard_swish", "hard_sigmoid", "swish", "sigmoid", "tanh", "gelu", "prelu", "silu", "exp"})
_MOVEMENT_OPS = frozenset({"reshape2", "reshape", "transpose2", "transpose", "concat", "split", "slice",
                           "flatten_contiguous_range", "flatten2", "flatten", "squeeze2", "unsqueeze2",
                           "shuffle_channel", "stack"})
# Folded away by opt (batch norm into the convolution) or doing nothing at inference.
_FREE_OPS = frozenset({"feed", "fetch", "batch_norm", "dropout", "assign", "shape", "fill_constant"})
_DEQUANTIZE_OUTPUT_OPS = frozenset({"fake_dequantize_max_abs", "fake_channel_wise_dequantize_max_abs"})
# What PaddleSlim's preset quantizes; the default preset (paddleclas) leaves matmul_v2 float.
DEFAULT_QUANTIZED_TYPES = frozenset({"conv2d", "depthwise_conv2d", "mul"})


def feature_names() -> list[str]:
    """Column names of a feature vector: ``kind[_int8].quantity`` for every kind and precision."""
    return [f"{kind}{suffix}.{q}" for suffix in ("", "_int8") for kind in KINDS for q in QUANTITIES]


@dataclasses.dataclass(frozen=True)
class ModelFeatures:
    """Per-kind work of one model at one input size and precision."""

    model: str
    precision: str  # "fp32", or "int8" when any operator runs in int8
    input_shape: tuple[int, ...]
    values: Mapping[str, float]  # feature_names() → value (absent = 0)
    weight_bytes: float  # parameters as stored (int8 weights 1 byte, float 4)

    def get(self, name: str) -> float:
        return float(self.values.get(name, 0.0))

    @property
    def macs(self) -> float:
        return sum(v for k, v in self.values.items() if k.endswith(".macs"))

    @property
    def activation_bytes(self) -> float:
        return sum(v for k, v in self.values.items() if k.endswith(".bytes"))

    def to_row(self) -> dict:
        row: dict[str, Any] = {"model": self.model, "precision": self.precision,
                               "input_shape": "x".join(str(d) for d in self.input_shape),
                               "weight_bytes": int(self.weight_bytes)}
        row.update({name: _compact(self.get(name)) for name in feature_names()})
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> "ModelFeatures":
        values = {name: float(row[name]) for name in feature_names() if row.get(name) not in (None, "", "0")}
        return cls(model=row["model"], precision=row["precision"],
                   input_shape=tuple(int(d) for d in row["input_shape"].split("x")),
                   values=values, weight_bytes=float(row["weight_bytes"]))


def _compact(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 3)


# ------------------------------------------------------------------------------ reading a program


@dataclasses.dataclass
class _Op:
    type: str
    inputs: dict[str, list[str]]
    outputs: dict[str, list[str]]
    attrs: dict[str, Any]


def _attr_value(attr: Any) -> Any:
    for field in ("i", "f", "s", "b", "l"):
        if attr.HasField(field):
            return getattr(attr, field)
    for field in ("ints", "floats", "strings", "bools", "longs"):
        values = list(getattr(attr, field))
        if values:
            return values
    return None


def _ops_and_shapes(program: Any) -> tuple[list[_Op], dict[str, tuple[int, ...]], set[str]]:
    block = program.blocks[0]
    shapes: dict[str, tuple[int, ...]] = {}
    persistable: set[str] = set()
    for var in block.vars:
        if var.type.HasField("lod_tensor"):
            # A free batch dimension (-1) is batch 1, as the benchmarks run.
            shapes[var.name] = tuple(1 if d < 0 else int(d) for d in var.type.lod_tensor.tensor.dims)
        if var.persistable:
            persistable.add(var.name)
    ops = [_Op(op.type, {s.parameter: list(s.arguments) for s in op.inputs},
               {s.parameter: list(s.arguments) for s in op.outputs},
               {a.name: _attr_value(a) for a in op.attrs}) for op in block.ops]
    return ops, shapes, persistable


def _elements(shape: Optional[tuple[int, ...]]) -> int:
    return math.prod(shape) if shape else 0


def _spatial(shape: Optional[tuple[int, ...]]) -> int:
    """H×W of an NCHW tensor (1 for anything of lower rank)."""
    return shape[2] * shape[3] if shape and len(shape) == 4 else 1


def program_features(program: Any, name: str, *,
                     quantized_types: Optional[Iterable[str]] = None) -> ModelFeatures:
    """Features of ``program``. ``quantized_types``: treat these operator types as int8 (the preset
    a zoo model's ``NAME_int8`` is built with) instead of reading quantization from the program."""
    from edgekit.legalize import QUANT_OPS

    ops, shapes, persistable = _ops_and_shapes(program)
    feeds = [op for op in ops if op.type == "feed"]
    if not feeds:
        raise InvalidInputError(f"{name}: the program has no feed operator: not an inference program")
    input_shape = shapes.get(next(iter(feeds[0].outputs.values()))[0], ())
    dequantized = {out for op in ops if op.type in QUANT_OPS for outs in op.outputs.values() for out in outs}
    # PaddleSlim's older format dequantizes an int8 operator's output instead of its weight.
    dequantized_after = {name for op in ops if op.type in _DEQUANTIZE_OUTPUT_OPS for name in op.inputs.get("X", [])}
    head_pool = _head_pool_index(ops, shapes)
    forced = frozenset(quantized_types) if quantized_types is not None else None

    values: dict[str, float] = defaultdict(float)
    weight_bytes = 0.0
    seen_weights: set[str] = set()
    for index, op in enumerate(ops):
        if op.type in QUANT_OPS or op.type in _FREE_OPS:
            continue
        inputs = [n for names in op.inputs.values() for n in names]
        weights = [n for n in inputs if n in persistable or _fed_by_dequant_weight(n, dequantized, persistable)]
        activations = [n for n in inputs if n not in weights]
        outputs = [n for key, names in op.outputs.items() if key != "XShape" for n in names]
        if forced is not None:
            int8 = op.type in forced
        else:  # int8 when its weights are: activations of every operator pass through quantize pairs
            int8 = (any(n in dequantized for n in weights)
                    or any(n in dequantized_after for names in op.outputs.values() for n in names))
        kind = _kind(op, shapes, index, head_pool)
        if kind is None:
            continue
        width = 1 if int8 else 4
        weight_elements = sum(_elements(shapes.get(_weight_source(n))) for n in weights)
        moved = (sum(_elements(shapes.get(n)) for n in activations + outputs) * width + weight_elements * width)
        key = kind + ("_int8" if int8 else "")
        values[f"{key}.ops"] += 1
        values[f"{key}.bytes"] += moved
        values[f"{key}.macs"] += _macs(op, kind, shapes, weights)
        for w in weights:
            source = _weight_source(w)
            if source not in seen_weights:
                seen_weights.add(source)
                weight_bytes += _elements(shapes.get(source)) * width
    precision = INT8 if any(k.split(".")[0].endswith("_int8") for k in values) else FP32
    return ModelFeatures(model=name, precision=precision, input_shape=tuple(input_shape),
                         values=dict(values), weight_bytes=weight_bytes)


def _fed_by_dequant_weight(name: str, dequantized: set[str], persistable: set[str]) -> bool:
    # In PaddleSlim's onnx format a weight reaches its operator through dequantize_linear; the
    # dequantized tensor's name is the weight's own name with a suffix.
    return name in dequantized and _weight_source(name) in persistable


def _weight_source(name: str) -> str:
    for suffix in (".quantized.dequantized", ".dequantized", "@dequantized", ".quantized"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _head_pool_index(ops: list[_Op], shapes: dict[str, tuple[int, ...]]) -> int:
    """Index of the last global pooling (to a 1×1 map): what follows is the classifier head;
    1×1-map operators before it belong to squeeze-and-excitation blocks."""
    last = len(ops)
    for index, op in enumerate(ops):
        if op.type in _POOL_OPS:
            out = shapes.get(op.outputs.get("Out", [""])[0])
            if out is not None and _spatial(out) == 1:
                last = index
    return last


def _first_activation(op: _Op, shapes: dict[str, tuple[int, ...]]) -> Optional[tuple[int, ...]]:
    for key in ("Input", "X"):
        for name in op.inputs.get(key, []):
            if name in shapes:
                return shapes[name]
    return None


def _kind(op: _Op, shapes: dict[str, tuple[int, ...]], index: int, head_pool: int) -> Optional[str]:
    x = _first_activation(op, shapes)
    on_point = x is not None and len(x) == 4 and _spatial(x) == 1
    if op.type in _CONV_OPS:
        if on_point:
            return "se" if index < head_pool else "fc"
        groups = int(op.attrs.get("groups") or 1)
        filter_shape = shapes.get(_weight_source(op.inputs.get("Filter", [""])[0]), ())
        if groups > 1 and x is not None and groups == x[1]:
            return "dwconv"
        kernel = filter_shape[2] * filter_shape[3] if len(filter_shape) == 4 else 1
        return "conv_1x1" if kernel == 1 else "conv_kxk"
    if op.type in _FC_OPS:
        return "fc"
    if op.type in _POOL_OPS:
        return "se" if index < head_pool and _is_se_pool(op, shapes) else "pool"
    if index < head_pool and on_point:
        return "se"  # SE's activations on the 1×1 map
    if op.type == "elementwise_mul" and _is_channel_scale(op, shapes):
        return "se"
    if op.type in _ELEMENTWISE_OPS:
        return "elementwise"
    if op.type in _FUSED_ACT_OPS:
        return "act_fused"
    if op.type in _ACT_OPS:
        return "act"
    if op.type in _MOVEMENT_OPS:
        return "movement"
    return "elementwise"  # anything else: a kernel of its own touching its tensors once


def _is_se_pool(op: _Op, shapes: dict[str, tuple[int, ...]]) -> bool:
    out = shapes.get(op.outputs.get("Out", [""])[0])
    return out is not None and _spatial(out) == 1


def _is_channel_scale(op: _Op, shapes: dict[str, tuple[int, ...]]) -> bool:
    """x * s with s of shape N×C×1×1 and x a feature map: the excitation of an SE block."""
    x = shapes.get(op.inputs.get("X", [""])[0])
    y = shapes.get(op.inputs.get("Y", [""])[0])
    return bool(x and y and len(x) == 4 and len(y) == 4 and _spatial(y) == 1 and _spatial(x) > 1)


def _macs(op: _Op, kind: str, shapes: dict[str, tuple[int, ...]], weights: list[str]) -> float:
    if op.type in _CONV_OPS:
        out = shapes.get(op.outputs.get("Output", [""])[0])
        filt = shapes.get(_weight_source(op.inputs.get("Filter", [""])[0]))
        if not out or not filt:
            return 0.0
        # Each output element takes (C_in / groups) × k × k multiply-adds: the filter's dims 1-3.
        return float(_elements(out) * math.prod(filt[1:]))
    if op.type in _FC_OPS:
        out = shapes.get(op.outputs.get("Out", [""])[0])
        w = shapes.get(_weight_source(weights[0])) if weights else None
        if not out or not w:
            return 0.0
        return float(_elements(out) * w[0])
    return 0.0


def model_file_features(model_file: Path, name: str, *,
                        quantized_types: Optional[Iterable[str]] = None) -> ModelFeatures:
    """Features of the program in ``model_file`` (a ``.pdmodel``)."""
    from edgekit.legalize import read_program

    return program_features(read_program(model_file), name, quantized_types=quantized_types)
