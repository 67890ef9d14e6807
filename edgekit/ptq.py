"""The call of PaddleSlim's post-training quantization (``paddleslim.quant.quant_post_static``):
its keyword arguments from a ``QuantConfig``, a calibration DataLoader over preprocessed samples,
and the call itself in a scope of its own, its failures turned into ``QuantizationError``.

PaddleSlim runs in this process: it is plain Python over paddle's executor (no crash-prone native
tool), and re-importing paddle in a child would cost several seconds per model.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from edgekit._paddle import error_gist, import_paddle, quiet_tools
from edgekit.errors import EdgekitError, QuantizationError, UsageError
from edgekit.export import MODEL_FILE, PARAMS_FILE, InferenceModel
from edgekit.program import WEIGHT_SLOTS
from edgekit.quant_config import QuantConfig


def paddleslim_arguments(fp32: InferenceModel, config: QuantConfig, skip_tensors: Sequence[str]) -> dict:
    """Keyword arguments of ``quant_post_static`` (all but executor, output path and data), or of
    ``quant_recon_static`` when ``config.recon_level`` is set (see ``run_quant_post_static``)."""
    arguments = {
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
    if config.recon_level is None:
        return arguments
    del arguments["round_type"], arguments["deploy_backend"]  # quant_recon_static has neither
    return {**arguments, "recon_level": config.recon_level,
            "simulate_activation_quant": config.simulate_activation_quant, "epochs": config.epochs, "lr": config.lr,
            "drop_prob": config.drop_prob}


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
    """Call ``paddleslim.quant.quant_post_static`` (or ``quant_recon_static`` when ``arguments`` name a
    ``recon_level``) in a scope of its own; QuantizationError on failure."""
    import_paddle()
    # its loggers exist from here on: quiet_tools() finds them
    from paddleslim.quant import quant_post_static, quant_recon_static

    quantize = quant_recon_static if "recon_level" in arguments else quant_post_static

    with contextlib.ExitStack() as stack:
        if quantize is quant_recon_static:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgekit-recon-")))
            arguments = {**arguments, "model_dir": str(with_dropout_masks(Path(arguments["model_dir"]), arguments,
                                                                          scratch))}
        _run(quantize, model_name, destination, arguments, samples, feed, input_shape, batch_size)
    for produced in (MODEL_FILE, PARAMS_FILE):
        if not (destination / produced).is_file():
            raise QuantizationError(f"PaddleSlim {quantize.__name__} wrote no {produced} for {model_name}")


def with_dropout_masks(model_dir: Path, arguments: dict, scratch: Path) -> Path:
    """A copy of the model in ``scratch`` whose dropout ops name a ``Mask`` output.

    quant_recon_static re-creates every op of the program to build its reconstruction graph, and
    paddle's dropout op requires its Mask output there, which inference programs saved by
    ``paddle.jit.save`` (PaddleClas's exports, edgekit's) leave out: PaddleSlim 2.6.0 fails with
    'Incorrect setting for output(s) of operator "dropout", should set: [Mask]'. The mask is never
    read at inference (is_test), so adding it changes nothing else."""
    from edgekit.legalize import framework_pb2, read_program

    model_file = model_dir / arguments["model_filename"]
    program = read_program(model_file)
    block = program.blocks[0]
    uint8 = framework_pb2().VarType.UINT8
    for op in block.ops:
        if op.type != "dropout" or any(slot.parameter == "Mask" for slot in op.outputs):
            continue
        out = next(slot.arguments[0] for slot in op.outputs if slot.parameter == "Out")
        mask = block.vars.add()
        mask.CopyFrom(next(var for var in block.vars if var.name == out))
        mask.name = f"{out}.edgekit_mask"
        mask.type.lod_tensor.tensor.data_type = uint8
        slot = op.outputs.add()
        slot.parameter = "Mask"
        slot.arguments.append(mask.name)
    (scratch / model_file.name).write_bytes(program.SerializeToString())
    shutil.copyfile(model_dir / arguments["params_filename"], scratch / arguments["params_filename"])
    return scratch


def _run(quantize: Any, model_name: str, destination: Path, arguments: dict, samples: np.ndarray, feed: str,
         input_shape: Sequence[int], batch_size: int) -> None:
    paddle = import_paddle()
    with static_mode(), quiet_tools():
        scope = paddle.static.Scope()
        executor = paddle.static.Executor(paddle.CPUPlace())
        loader = calibration_loader(samples, feed, input_shape, batch_size)
        with paddle.static.scope_guard(scope):
            try:
                quantize(executor=executor, quantize_model_path=str(destination), data_loader=loader, scope=scope,
                         **arguments)
            except EdgekitError:
                raise
            except Exception as e:  # PaddleSlim and paddle raise AssertionError, ValueError, enforce errors
                raise QuantizationError(f"PaddleSlim {quantize.__name__} failed on {model_name}: {error_gist(e)}") from None


def check_op_types(op_types: Sequence[str]) -> None:
    import_paddle()
    from paddle.static.quantization.quant_config import SUPPORT_QUANTIZATION_OP_DICT

    unknown = [t for t in op_types if t not in SUPPORT_QUANTIZATION_OP_DICT]
    if unknown:
        raise UsageError(f"quantizable_op_type {', '.join(unknown)} not supported by PaddleSlim "
                         f"(weight ops: {', '.join(WEIGHT_SLOTS)})")
