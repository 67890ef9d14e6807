"""The call of PaddleSlim's post-training quantization (``paddleslim.quant.quant_post_static``):
its keyword arguments from a ``QuantConfig``, a calibration DataLoader over preprocessed samples,
and the call itself in a scope of its own, its failures turned into ``QuantizationError``.

PaddleSlim runs in this process: it is plain Python over paddle's executor (no crash-prone native
tool), and re-importing paddle in a child would cost several seconds per model.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from edgekit._paddle import error_gist, import_paddle, quiet_tools
from edgekit.errors import EdgekitError, QuantizationError, UsageError
from edgekit.export import MODEL_FILE, PARAMS_FILE, InferenceModel
from edgekit.program import WEIGHT_SLOTS
from edgekit.quant_config import QuantConfig


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


def check_op_types(op_types: Sequence[str]) -> None:
    import_paddle()
    from paddle.static.quantization.quant_config import SUPPORT_QUANTIZATION_OP_DICT

    unknown = [t for t in op_types if t not in SUPPORT_QUANTIZATION_OP_DICT]
    if unknown:
        raise UsageError(f"quantizable_op_type {', '.join(unknown)} not supported by PaddleSlim "
                         f"(weight ops: {', '.join(WEIGHT_SLOTS)})")
