"""Fold the activations and constants X2Paddle spells out back into Paddle's own operators.

X2Paddle 1.6 has no mapping for ONNX HardSwish (edgekit.onnx_import rewrites it as
``x * HardSigmoid(x, 1/6, 0.5)``), maps HardSigmoid to ``scale`` then ``clip``, and writes every
ONNX scalar as a ``fill_constant`` tensor that an ``elementwise_*`` op broadcasts. A network
imported from ONNX therefore holds several operators where PaddleClas's own export holds one:

- ``scale(x, 1/6, 0.5) → clip(0, 1) → elementwise_mul(x, ·)`` (our HardSwish rewrite) and
  ``scale(elementwise_mul(x, clip(x + 3, 0, 6)), 1/6)`` (paddle2onnx's hard_swish at opset < 14)
  are ``hard_swish(x)``;
- ``scale(x, a, b) → clip(0, 1)`` is ``hard_sigmoid(x, a, b)``;
- ``elementwise_{add,sub,mul,div}(x, c)`` with a one-element constant ``c`` is ``scale(x, ...)``,
  and ``clip`` with constant Min/Max tensors takes them as attributes.

Paddle Lite runs each operator as a pass over the tensor, and its broadcasting elementwise kernels
are slow (x86: ch_ppocr_mobile_v2.0_cls at 48x192 runs in ~2 ms folded, 8-16 ms as X2Paddle
writes it), so the phone would measure a slower network than the one that was trained. This
module replaces each chain by the one operator computing the same function, when the
intermediate tensors feed nothing else; edgekit.onnx_import checks the result against onnxruntime.

It works on the ProgramDesc protobuf (edgekit.legalize reads it without importing paddle).
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, Optional

from edgekit.legalize import clear_callstacks, framework_pb2, read_program

# How close a float attribute must be to the value a pattern needs (X2Paddle writes 1/6 as float32).
_ATOL = 1e-6


def fuse_model_file(path: Path) -> dict[str, int]:
    """Fold the program in ``path`` in place; how many of each: {"scalar_constants", "hard_swish", "hard_sigmoid"}.
    Also drops the ops' recorded Python call stacks (paths of X2Paddle's generated code)."""
    program = read_program(path)
    counts = {"scalar_constants": 0, "hard_swish": 0, "hard_sigmoid": 0}
    for block in program.blocks:
        counts["scalar_constants"] += _fold_scalar_constants(block)
        counts["hard_swish"] += _fuse(block, _match_hard_swish)
        counts["hard_swish"] += _fuse(block, _match_hard_swish_relu6)
        counts["hard_sigmoid"] += _fuse(block, _match_hard_sigmoid)
    clear_callstacks(program)
    Path(path).write_bytes(program.SerializeToString())
    return counts


# ------------------------------------------------------------------------------ scalar constants

# x (op) c for a one-element constant c, as scale(x, scale, bias): out = x * scale + bias.
_SCALAR_AS_SCALE = {
    "elementwise_add": lambda c: (1.0, c),
    "elementwise_sub": lambda c: (1.0, -c),
    "elementwise_mul": lambda c: (c, 0.0),
    "elementwise_div": lambda c: (1.0 / c, 0.0) if c != 0 else None,
}
_FP32 = 5  # VarType.FP32, fill_constant's dtype attribute


def _fold_scalar_constants(block: Any) -> int:
    """``elementwise_{add,sub,mul,div}(x, c)`` with ``c`` a one-element float constant
    (``fill_constant``, what X2Paddle writes for ONNX scalars such as paddle2onnx's hard_swish
    ``x * clip(x + 3, 0, 6) / 6``) → ``scale(x, ...)``, one pass over x instead of a broadcast; the
    constants left unread are dropped. ``clip``'s Min/Max constants become its attributes."""
    ops = list(block.ops)
    constants = {_argument(op.outputs, "Out"): _constant_value(op) for op in ops if op.type == "fill_constant"}
    constants = {name: value for name, value in constants.items() if name is not None and value is not None}
    folded, rebuilt = 0, []
    for op in ops:
        replacement = _scalar_replacement(op, constants)
        if replacement is not None:
            folded += 1
        rebuilt.append(replacement if replacement is not None else op)
    if not folded:
        return 0
    readers = collections.Counter(name for op in rebuilt for slot in op.inputs for name in slot.arguments)
    unread = {name for name in constants if readers[name] == 0}
    _replace(block.ops, [op for op in rebuilt if not (op.type == "fill_constant" and _outputs(op)[0] in unread)])
    _replace(block.vars, [var for var in block.vars if var.name not in unread])
    return folded


def _constant_value(op: Any) -> Optional[float]:
    """The value of a fill_constant making one float32 element (no shape/value tensors), else None."""
    if any(slot.arguments for slot in op.inputs) or _int_attr(op, "dtype", -1) != _FP32:
        return None
    shape = _attr(op, "shape")
    dims = list(shape.longs) or list(shape.ints) if shape is not None else []
    if any(d != 1 for d in dims):
        return None
    text = _attr(op, "str_value")
    if text is not None and text.s:
        try:
            return float(text.s)
        except ValueError:
            return None
    return _float_attr(op, "value")


def _scalar_replacement(op: Any, constants: dict) -> Optional[Any]:
    if op.type == "clip":
        low, high = (constants.get(_argument(op.inputs, p)) for p in ("Min", "Max"))
        if low is None or high is None or _argument(op.inputs, "X") is None:
            return None
        return _new_op("clip", _argument(op.inputs, "X"), _argument(op.outputs, "Out"), {"min": low, "max": high})
    make = _SCALAR_AS_SCALE.get(op.type)
    x, y = _argument(op.inputs, "X"), _argument(op.inputs, "Y")
    if make is None or y not in constants or x in constants or x is None:
        return None
    scale_bias = make(constants[y])
    if scale_bias is None:
        return None
    return _new_op("scale", x, _argument(op.outputs, "Out"),
                   {"scale": scale_bias[0], "bias": scale_bias[1], "bias_after_scale": True})


# ------------------------------------------------------------------------------------ matching


def _fuse(block: Any, match: Any) -> int:
    """Replace every chain ``match`` finds in ``block``; the number replaced. The new operator takes
    the place of the chain's last one (its inputs are defined before the chain's first)."""
    fused = 0
    while True:
        ops = list(block.ops)
        producers = {name: i for i, op in enumerate(ops) for name in _outputs(op)}
        readers = collections.Counter(name for op in ops for slot in op.inputs for name in slot.arguments)
        found = next((m for m in (match(i, ops, producers, readers) for i in range(len(ops))) if m is not None), None)
        if found is None:
            return fused
        chain, new_op, dropped_vars = found
        rebuilt = []
        for i, op in enumerate(ops):
            if i == max(chain):
                rebuilt.append(new_op)
            elif i not in chain:
                rebuilt.append(op)
        _replace(block.ops, rebuilt)
        _replace(block.vars, [var for var in block.vars if var.name not in dropped_vars])
        fused += 1


def _match_hard_swish(i: int, ops: list, producers: dict, readers: collections.Counter) -> Optional[tuple]:
    """elementwise_mul(x, clip(scale(x, 1/6, 0.5), 0, 1)), in either argument order."""
    op = ops[i]
    if op.type != "elementwise_mul" or _int_attr(op, "axis", -1) != -1:
        return None
    x, y = _argument(op.inputs, "X"), _argument(op.inputs, "Y")
    for value, gate in ((x, y), (y, x)):
        chain = _gate_chain(gate, ops, producers, readers)
        if chain is None:
            continue
        scale, clip = chain
        if _argument(ops[scale].inputs, "X") != value or not (
                _near(_float_attr(ops[scale], "scale"), 1 / 6) and _near(_float_attr(ops[scale], "bias"), 0.5)):
            continue
        new = _new_op("hard_swish", value, _argument(op.outputs, "Out"),
                      {"threshold": 6.0, "scale": 6.0, "offset": 3.0})
        return [scale, clip, i], new, {_argument(ops[scale].outputs, "Out"), gate}
    return None


def _match_hard_swish_relu6(i: int, ops: list, producers: dict, readers: collections.Counter) -> Optional[tuple]:
    """scale(elementwise_mul(x, clip(scale(x, 1, 3), 0, 6)), 1/6): paddle2onnx's hard_swish."""
    op = ops[i]
    if op.type != "scale" or not (_near(_float_attr(op, "scale"), 1 / 6) and _near(_float_attr(op, "bias"), 0.0)):
        return None
    product = _argument(op.inputs, "X")
    mul = producers.get(product) if product else None
    if mul is None or ops[mul].type != "elementwise_mul" or readers[product] != 1 \
            or _int_attr(ops[mul], "axis", -1) != -1:
        return None
    x, y = _argument(ops[mul].inputs, "X"), _argument(ops[mul].inputs, "Y")
    for value, gate in ((x, y), (y, x)):
        chain = _gate_chain(gate, ops, producers, readers, clip_max=6.0)
        if chain is None:
            continue
        shift, clip = chain
        if _argument(ops[shift].inputs, "X") != value or not (
                _near(_float_attr(ops[shift], "scale"), 1.0) and _near(_float_attr(ops[shift], "bias"), 3.0)):
            continue
        new = _new_op("hard_swish", value, _argument(op.outputs, "Out"),
                      {"threshold": 6.0, "scale": 6.0, "offset": 3.0})
        return [shift, clip, mul, i], new, {_argument(ops[shift].outputs, "Out"), gate, product}
    return None


def _match_hard_sigmoid(i: int, ops: list, producers: dict, readers: collections.Counter) -> Optional[tuple]:
    """clip(scale(x, slope, offset), 0, 1) whose scale output feeds only the clip."""
    if ops[i].type != "clip":
        return None
    chain = _gate_chain(_argument(ops[i].outputs, "Out"), ops, producers, readers, single_gate=False)
    if chain is None:
        return None
    scale, clip = chain
    new = _new_op("hard_sigmoid", _argument(ops[scale].inputs, "X"), _argument(ops[clip].outputs, "Out"),
                  {"slope": _float_attr(ops[scale], "scale"), "offset": _float_attr(ops[scale], "bias")})
    return [scale, clip], new, {_argument(ops[scale].outputs, "Out")}


def _gate_chain(gate: Optional[str], ops: list, producers: dict, readers: collections.Counter, *,
                single_gate: bool = True, clip_max: float = 1.0) -> Optional[tuple[int, int]]:
    """Indices (scale, clip) when ``gate`` is clip(scale(x), 0, clip_max), the scaled tensor feeds
    only the clip and (``single_gate``) the gate feeds only one operator."""
    clip = producers.get(gate) if gate else None
    if clip is None or ops[clip].type != "clip" or _argument(ops[clip].inputs, "Min") \
            or _argument(ops[clip].inputs, "Max"):
        return None
    if not (_near(_float_attr(ops[clip], "min"), 0.0) and _near(_float_attr(ops[clip], "max"), clip_max)):
        return None
    scaled = _argument(ops[clip].inputs, "X")
    scale = producers.get(scaled) if scaled else None
    if scale is None or ops[scale].type != "scale" or _argument(ops[scale].inputs, "ScaleTensor"):
        return None
    if not _bool_attr(ops[scale], "bias_after_scale", True) or readers[scaled] != 1:
        return None
    if single_gate and readers[gate] != 1:
        return None
    return scale, clip


# ------------------------------------------------------------------------------------ protobuf


def _new_op(op_type: str, x: str, out: str, attributes: dict[str, float]) -> Any:
    pb2 = framework_pb2()
    op = pb2.OpDesc()
    op.type = op_type
    slot = op.inputs.add()
    slot.parameter = "X"
    slot.arguments.append(x)
    slot = op.outputs.add()
    slot.parameter = "Out"
    slot.arguments.append(out)
    for name, value in attributes.items():
        attr = op.attrs.add()
        attr.name = name
        if isinstance(value, bool):
            attr.type, attr.b = pb2.BOOLEAN, value
        else:
            attr.type, attr.f = pb2.FLOAT, float(value)
    return op


def _replace(repeated: Any, items: list) -> None:
    copies = [type(item)() for item in items]
    for copy, item in zip(copies, items):
        copy.CopyFrom(item)
    del repeated[:]
    repeated.extend(copies)


def _outputs(op: Any) -> list[str]:
    return [name for slot in op.outputs for name in slot.arguments]


def _argument(slots: Any, parameter: str) -> Optional[str]:
    for slot in slots:
        if slot.parameter == parameter and len(slot.arguments) == 1:
            return slot.arguments[0]
    return None


def _attr(op: Any, name: str) -> Optional[Any]:
    return next((a for a in op.attrs if a.name == name), None)


def _float_attr(op: Any, name: str) -> Optional[float]:
    attr = _attr(op, name)
    return float(attr.f) if attr is not None else None


def _int_attr(op: Any, name: str, default: int) -> int:
    attr = _attr(op, name)
    return int(attr.i) if attr is not None else default


def _bool_attr(op: Any, name: str, default: bool) -> bool:
    attr = _attr(op, name)
    return bool(attr.b) if attr is not None else default


def _near(value: Optional[float], wanted: float) -> bool:
    return value is not None and abs(value - wanted) <= _ATOL
