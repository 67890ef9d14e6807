"""The one door to paddle: importing it quietly, running inference models, reading its errors.

Every edgekit module that needs paddle gets it from ``import_paddle()``, which first quiets what
paddle and its tools print on their own and a user does not need: glog's INFO lines ("New
Executor is Running."), setuptools' "replacing distutils" warning. ``quiet_tools()`` hides the
INFO logs and progress bars of paddle's post-training quantization and PaddleSlim for the call it
wraps. ``EDGEKIT_VERBOSE=1`` keeps everything; a GLOG_minloglevel the user set is kept as well.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from edgekit.errors import ToolError

VERBOSE_ENV = "EDGEKIT_VERBOSE"
# glog levels: 0 INFO, 1 WARNING, 2 ERROR. Paddle's INFO lines are for its developers.
QUIET_GLOG_LEVEL = "1"
# Loggers of the quantization code (they print INFO lines such as "Collect quantized variable names").
TOOL_LOGGER_PREFIXES = ("paddle", "paddleslim")


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def import_paddle() -> Any:
    """``paddle``, imported (once) with its start-up chatter quieted unless verbose."""
    if not verbose():
        os.environ.setdefault("GLOG_minloglevel", QUIET_GLOG_LEVEL)  # read by glog when paddle loads
        warnings.filterwarnings("ignore", message="Setuptools is replacing distutils", category=UserWarning)
    import paddle

    return paddle


@contextlib.contextmanager
def quiet_tools() -> Iterator[None]:
    """Hide the INFO logs and progress bars (tqdm, on sys.stderr) of paddle's and PaddleSlim's Python
    code for the block; their errors still propagate as exceptions."""
    if verbose():
        yield
        return
    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
               if name.startswith(TOOL_LOGGER_PREFIXES)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def error_gist(error: BaseException) -> str:
    """The informative line of a paddle/PaddleSlim error: their messages span many lines (a
    Python stack, then ``SomeError: what happened``, then hints); keep the ``...Error:`` line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    summaries = [line for line in lines if re.match(r"^[A-Za-z]*Error: ", line)]
    text = (summaries or lines or [type(error).__name__])[-1]
    return text if len(text) <= 300 else text[:297] + "..."


class PaddlePredictor:
    """One Paddle Inference predictor on CPU, fed one sample at a time (edgekit exports batch 1)."""

    def __init__(self, model_file: Path, params_file: Path, *, threads: Optional[int] = None):
        import_paddle()
        from paddle import inference

        config = inference.Config(str(model_file), str(params_file))
        config.disable_gpu()
        config.disable_glog_info()
        # Run the program as saved: no fusion passes, so an int8 program computes exactly what
        # PaddleSlim wrote, and creating a predictor for the ~800-op quantized program is ~1 s faster.
        config.switch_ir_optim(False)
        config.set_cpu_math_library_num_threads(threads or os.cpu_count() or 1)
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as e:  # paddle raises its own enforce errors for unreadable programs
            raise ToolError(f"Paddle Inference cannot load {model_file}: {error_gist(e)}") from None
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
        self.model_file = model_file

    def __call__(self, sample: np.ndarray) -> np.ndarray:
        """The output of one CHW sample, flattened (logits)."""
        self._input.reshape([1, *sample.shape])
        self._input.copy_from_cpu(np.ascontiguousarray(sample[None], dtype=np.float32))
        self._predictor.run()
        return self._output.copy_to_cpu().reshape(-1)

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Outputs (N, ...) of a batch (N, C, H, W), one sample at a time."""
        return np.stack([self(sample) for sample in np.asarray(batch, dtype=np.float32)])


def run_paddle_inference(model_file: Path, params_file: Path, batch: np.ndarray) -> np.ndarray:
    """Outputs (N, classes) of a Paddle inference model for ``batch`` (N, C, H, W) on CPU."""
    return PaddlePredictor(model_file, params_file).run_batch(batch)
