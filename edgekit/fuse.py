"""Fold the activations X2Paddle spells out back into Paddle's own operators.

X2Paddle 1.6 has no mapping for ONNX HardSwish (edgekit.onnx_import rewrites it as
``x * HardSigmoid(x, 1/6, 0.5)``), and it maps HardSigmoid to ``scale`` then ``clip``. A PP-LCNet
or MobileNetV3 imported from ONNX therefore holds three operators per activation where PaddleClas's
own export holds one: ``scale(x, 1/6, 0.5) → clip(0, 1) → elementwise_mul(x, ·)`` instead of
``hard_swish(x)``, and ``scale(x, a, b) → clip(0, 1)`` instead of ``hard_sigmoid(x)``. Paddle Lite
runs each as a separate pass over the tensor, so the phone would measure a slower network than the
one that was trained. This module finds those chains in the ProgramDesc and replaces each with the
one operator (exactly the same function), when the intermediate tensors feed nothing else.

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
    """Fuse the activations of the program in ``path`` in place; {"hard_swish": n, "hard_sigmoid": m}.
    Also drops the ops' recorded Python call stacks (paths of X2Paddle's generated code)."""
    program = read_program(path)
    counts = {"hard_swish": 0, "hard_sigmoid": 0}
    for block in program.blocks:
        counts["hard_swish"] += _fuse(block, _match_hard_swish)
        counts["hard_sigmoid"] += _fuse(block, _match_hard_sigmoid)
    clear_callstacks(program)
    Path(path).write_bytes(program.SerializeToString())
    return counts


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
                single_gate: bool = True) -> Optional[tuple[int, int]]:
    """Indices (scale, clip) when ``gate`` is clip(scale(x), 0, 1), the scaled tensor feeds only the
    clip and (``single_gate``) the gate feeds only one operator."""
    clip = producers.get(gate) if gate else None
    if clip is None or ops[clip].type != "clip" or _argument(ops[clip].inputs, "Min") \
            or _argument(ops[clip].inputs, "Max"):
        return None
    if not (_near(_float_attr(ops[clip], "min"), 0.0) and _near(_float_attr(ops[clip], "max"), 1.0)):
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
        attr.name, attr.type, attr.f = name, pb2.FLOAT, float(value)
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
