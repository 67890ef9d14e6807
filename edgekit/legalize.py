"""Program fixes that Paddle Lite 2.13's opt needs in programs saved by Paddle 2.6.

Paddle 2.6 saves some operators in a newer form than the one Paddle Lite 2.13 reads: attributes
that became implicit (relu6's threshold, swish's beta) are no longer written, and some outputs
that Paddle 2.6 no longer creates (flatten's ``XShape``) are still expected. opt reads missing
attributes with a CHECK, so a missing one aborts the whole process. Each fix below says which
opt code reads what; all work on the ProgramDesc protobuf, never on text.

The protobuf classes are paddle's own ``framework_pb2``; it is loaded from its file, without
importing paddle (2 s), so converting a cached model stays cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from edgekit.errors import InvalidInputError, MissingDependencyError

# Bump when a fix changes, so converted artifacts made with the old fixes are rebuilt.
LEGALIZE_VERSION = 2
# Operators PaddleSlim leaves in int8 programs (either of its formats); opt folds them into int8
# kernels, so they need no kernel of their own.
QUANT_OPS = frozenset({
    "quantize_linear", "dequantize_linear", "fake_quantize_abs_max", "fake_quantize_range_abs_max",
    "fake_quantize_moving_average_abs_max", "fake_channel_wise_quantize_abs_max",
    "fake_quantize_dequantize_moving_average_abs_max", "fake_channel_wise_quantize_dequantize_abs_max",
    "fake_dequantize_max_abs", "fake_channel_wise_dequantize_max_abs",
})


@functools.lru_cache(maxsize=1)
def framework_pb2() -> Any:
    """paddle's ``framework_pb2`` module (ProgramDesc and friends), loaded without paddle."""
    if "paddle.base.proto.framework_pb2" in sys.modules:
        return sys.modules["paddle.base.proto.framework_pb2"]
    spec = importlib.util.find_spec("paddle")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("paddlepaddle is not installed (needed to read .pdmodel files)")
    path = Path(list(spec.submodule_search_locations)[0]) / "base" / "proto" / "framework_pb2.py"
    file_spec = importlib.util.spec_from_file_location("_edgekit_framework_pb2", path)
    if file_spec is None or file_spec.loader is None:
        raise MissingDependencyError(f"paddle's program protobuf module is missing ({path})")
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


def read_program(path: Path) -> Any:
    """The ProgramDesc in a ``.pdmodel`` file; InvalidInputError when missing or not a program."""
    pb2 = framework_pb2()
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InvalidInputError(f"cannot read model file {path}: {e.strerror or e}") from None
    program = pb2.ProgramDesc()
    try:
        program.ParseFromString(data)
    except Exception:  # protobuf's DecodeError and friends: the file is not a ProgramDesc
        raise InvalidInputError(f"{path} is not a Paddle program (.pdmodel): cannot parse it") from None
    if not data or not program.blocks or not program.blocks[0].ops:
        raise InvalidInputError(f"{path} is not a Paddle program (.pdmodel): it holds no operators")
    return program


def is_quantized_program(program: Any) -> bool:
    """True when the program holds PaddleSlim's quantization operators (an int8 program)."""
    return any(op.type in QUANT_OPS for block in program.blocks for op in block.ops)


def program_ops(program: Any) -> list[str]:
    """Operator types of a program, in order of first use (feed/fetch excluded)."""
    seen: dict[str, None] = {}
    for block in program.blocks:
        for op in block.ops:
            if op.type not in ("feed", "fetch"):
                seen.setdefault(op.type, None)
    return list(seen)


@dataclasses.dataclass(frozen=True)
class Fix:
    """One change made to the program: which operator (type, output), what was done (``change``)
    and the kind of change it is, without details of this operator (for counting)."""

    op_type: str
    output: str
    change: str
    kind: str

    def __str__(self) -> str:
        return f"{self.op_type} -> {self.output}: {self.change}"


# ---------------------------------------------------------------------------- attribute helpers


def _attr(op: Any, name: str) -> Optional[Any]:
    for attr in op.attrs:
        if attr.name == name:
            return attr
    return None


def _set_default(op: Any, name: str, value: float | int) -> Optional[str]:
    """Add attribute ``name`` = ``value`` (FLOAT for a float, INT for an int) when the op lacks it;
    the change made, or None."""
    if _attr(op, name) is not None:
        return None
    attr = op.attrs.add()
    attr.name = name
    if isinstance(value, float):
        attr.type, attr.f = framework_pb2().FLOAT, value
    else:
        attr.type, attr.i = framework_pb2().INT, value
    return f"added attribute {name}={value}"


def _arguments(slots: Any, parameter: str) -> list[str]:
    for slot in slots:
        if slot.parameter == parameter:
            return list(slot.arguments)
    return []


def _find_var(block: Any, name: str) -> Optional[Any]:
    for var in block.vars:
        if var.name == name:
            return var
    return None


# ------------------------------------------------------------------------------------- fixes
# Each fix takes (op, block) and returns the changes it made as (kind, change) pairs (empty when
# none was needed); the kind leaves out what is particular to this operator.

Changes = list[tuple[str, str]]


def _attribute_changes(*changes: Optional[str]) -> Changes:
    """(kind, change) pairs of attributes added: the change is its own kind."""
    return [(c, c) for c in changes if c]


def _fix_relu6(op: Any, block: Any) -> Changes:
    # Lite's ActivationOp::AttachImpl reads GetAttr<float>("threshold") for relu6; Paddle 2.6's
    # relu6 has the threshold fixed at 6 and stopped saving it, so opt aborts on the CHECK.
    return _attribute_changes(_set_default(op, "threshold", 6.0))


def _fix_swish(op: Any, block: Any) -> Changes:
    # Lite reads GetAttr<float>("beta") for swish; Paddle 2.6's swish is x * sigmoid(x), i.e.
    # beta = 1, and no longer saves the attribute.
    return _attribute_changes(_set_default(op, "beta", 1.0))


def _fix_hard_swish(op: Any, block: Any) -> Changes:
    # Lite reads threshold, scale and offset (and aborts without them); Paddle 2.6 writes them, but
    # programs saved through other paths may omit them. The values are the defaults of Paddle's
    # op definition (6, 6, 3).
    return _attribute_changes(_set_default(op, "threshold", 6.0), _set_default(op, "scale", 6.0),
                              _set_default(op, "offset", 3.0))


def _fix_hard_sigmoid(op: Any, block: Any) -> Changes:
    # Lite reads slope and offset (and aborts without them); fill the defaults of Paddle's op
    # definition (0.2, 0.5) only when absent.
    return _attribute_changes(_set_default(op, "slope", 0.2), _set_default(op, "offset", 0.5))


def _fix_flatten_contiguous_range(op: Any, block: Any) -> Changes:
    # Paddle 2.6 no longer gives flatten_contiguous_range an XShape output in inference
    # programs; opt's x86 path (and older Lite kernels) still use it, and without it opt
    # segfaults with --valid_targets=x86. XShape is shape-only: dims [0] + X's dims, the same
    # convention Paddle uses for reshape2/transpose2.
    if _arguments(op.outputs, "XShape"):
        return []
    inputs = _arguments(op.inputs, "X")
    outputs = _arguments(op.outputs, "Out")
    if not inputs or not outputs:
        return []
    source = _find_var(block, inputs[0])
    name = f"{outputs[0]}.xshape"
    if _find_var(block, name) is None:
        var = block.vars.add()
        var.name = name
        var.persistable = False
        var.type.type = framework_pb2().VarType.LOD_TENSOR
        tensor = var.type.lod_tensor.tensor
        if source is not None and source.type.HasField("lod_tensor"):
            tensor.data_type = source.type.lod_tensor.tensor.data_type
            tensor.dims.extend([0, *source.type.lod_tensor.tensor.dims])
        else:
            tensor.data_type = framework_pb2().VarType.FP32
            tensor.dims.extend([0])
    slot = next((s for s in op.outputs if s.parameter == "XShape"), None) or op.outputs.add()
    slot.parameter = "XShape"
    slot.arguments.append(name)
    return [("added output XShape", f"added output XShape={name}")]


def _fix_quant_linear(op: Any, block: Any) -> Changes:
    # Lite's (de)quantize_linear ops read GetAttr<int>("bit_length") and ("quant_axis") and abort
    # when either is absent. PaddleSlim 2.6 writes both; for programs that omit them, fill the
    # defaults of Paddle's own op definition (8 bits, axis 0), i.e. what Paddle computes for them.
    return _attribute_changes(_set_default(op, "bit_length", 8), _set_default(op, "quant_axis", 0))


FIXES: dict[str, Callable[[Any, Any], Changes]] = {
    "relu6": _fix_relu6,
    "swish": _fix_swish,
    "hard_swish": _fix_hard_swish,
    "hard_sigmoid": _fix_hard_sigmoid,
    "flatten_contiguous_range": _fix_flatten_contiguous_range,
    "quantize_linear": _fix_quant_linear,
    "dequantize_linear": _fix_quant_linear,
}


def legalize_program(program: Any) -> list[Fix]:
    """Apply every fix to ``program`` in place; the changes made, one per operator and change."""
    fixes: list[Fix] = []
    for block in program.blocks:
        for op in block.ops:
            fix = FIXES.get(op.type)
            if fix is None:
                continue
            outputs = [a for slot in op.outputs for a in slot.arguments]
            for kind, change in fix(op, block):
                fixes.append(Fix(op.type, outputs[0] if outputs else "", change, kind))
    return fixes


CALLSTACK_ATTR = "op_callstack"


def clear_callstacks(program: Any) -> int:
    """Empty every op's ``op_callstack`` attribute (the Python stack of the process that built
    it); the number of ops changed. Paddle records it for error messages only."""
    cleared = 0
    for block in program.blocks:
        for op in block.ops:
            attr = _attr(op, CALLSTACK_ATTR)
            if attr is not None and len(attr.strings):
                del attr.strings[:]
                cleared += 1
    return cleared


def legalize_model_file(source: Path, destination: Path) -> list[Fix]:
    """Write a legalized copy of the program in ``source`` to ``destination``; the fixes made."""
    program = read_program(source)
    fixes = legalize_program(program)
    Path(destination).write_bytes(program.SerializeToString())
    return fixes


def summarize_fixes(fixes: list[Fix]) -> dict[str, int]:
    """{"relu6: added attribute threshold=6.0": 12, ...}: the fixes counted by kind."""
    counts: dict[str, int] = {}
    for fix in fixes:
        key = f"{fix.op_type}: {fix.kind}"
        counts[key] = counts.get(key, 0) + 1
    return counts
