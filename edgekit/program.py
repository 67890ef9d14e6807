"""What a Paddle program says about quantization: its layers with weights (what PaddleSlim can
quantize and ``--skip`` can keep float), which weights a saved int8 program stores quantized, its
feed variable, and what ``--skip`` patterns mean. Works on the ProgramDesc of ``legalize.read_program``
(no paddle import)."""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any, Sequence

from edgekit.errors import InvalidInputError, UsageError

# Operators that carry weights, with the input slot holding them (PaddleSlim's weight-op table).
WEIGHT_SLOTS = {"conv2d": "Filter", "depthwise_conv2d": "Filter", "conv2d_transpose": "Filter",
                "mul": "Y", "matmul": "Y", "matmul_v2": "Y"}
FAKE_DEQUANT_OPS = frozenset({"fake_dequantize_max_abs", "fake_channel_wise_dequantize_max_abs"})


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
        """``conv2d_1`` means that layer (or its weight ``conv2d_1.w_0``), never ``conv2d_10``; a
        pattern with ``*``, ``?`` or ``[`` globs over the same names. Output tensor names are not
        matched: Paddle numbers them apart from the weights (the conv with weight ``conv2d_3.w_0``
        may write ``conv2d_2.tmp_0``), so they would catch other layers."""
        names = (self.name, self.weight)
        if any(c in pattern for c in "*?["):
            return any(fnmatch.fnmatchcase(n, pattern) for n in names)
        return pattern in names


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

    A pattern is a layer name (``conv2d_62``, ``linear_0``: the stem of the weight's name) or a
    weight name (``conv2d_62.w_0``), matched exactly, or an fnmatch glob over them (``conv2d_1*``).
    """
    resolved = {}
    for pattern in patterns:
        matched = [layer.weight for layer in layers if layer.matches(pattern)]
        if not matched:
            examples = ", ".join(layer.name for layer in list(layers)[-3:])
            raise UsageError(f"--skip {pattern!r} matches no layer with weights (layer names look like {examples})")
        resolved[pattern] = matched
    return resolved


# ------------------------------------------------------------------ layers kept float, inputs too

QDQ_OPS = frozenset({"quantize_linear", "dequantize_linear"})
DEQUANTIZED = ".quantized.dequantized"  # PaddleSlim's name for a quantize/dequantize pair's output


def float_inputs(program: Any, weights: Sequence[str]) -> list[str]:
    """Make the layers whose weight is in ``weights`` read their activation input unquantized, in
    a program PaddleSlim saved in its ONNX format; returns the inputs changed.

    PaddleSlim's ``skip_tensor_list`` keeps a layer's weights float but not its input: with
    ``onnx_format`` every output of an op it observes (batch_norm, hard_swish, elementwise_add,
    ...) goes through a quantize/dequantize pair, which Paddle Inference then rounds for every
    reader. Paddle Lite runs a float layer on the float tensor (the pair's scale only serves
    int8 kernels), so a layer kept float reads its input directly here too, as on the phone;
    other readers keep the pair. Pairs nobody reads any more are removed (their scale variables
    stay declared, so the saved parameters still match the program).
    """
    wanted = set(weights)
    changed = []
    block = program.blocks[0]
    for op in block.ops:
        slot = WEIGHT_SLOTS.get(op.type)
        weight_in = _arguments(op.inputs, slot) if slot else []
        if not weight_in or weight_in[0].removesuffix(DEQUANTIZED) not in wanted:
            continue
        for inputs in op.inputs:
            if inputs.parameter == slot:
                continue
            for i, name in enumerate(inputs.arguments):
                if name.endswith(DEQUANTIZED):
                    inputs.arguments[i] = name[: -len(DEQUANTIZED)]
                    changed.append(inputs.arguments[i])
    remove_unread_pairs(block, keep=())
    return changed


def remove_unread_pairs(block: Any, keep: Sequence[str]) -> None:
    """Remove quantize/dequantize ops whose outputs no op reads (nor ``keep`` names)."""
    changed = True
    while changed:
        changed = False
        read = set(keep)
        for op in block.ops:
            read.update(a for s in op.inputs for a in s.arguments)
        for index in reversed(range(len(block.ops))):
            op = block.ops[index]
            if op.type in QDQ_OPS and not read.intersection(a for s in op.outputs for a in s.arguments):
                del block.ops[index]
                changed = True
