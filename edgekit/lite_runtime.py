"""Running x86 ``.nb`` files on this machine with Paddle Lite's runtime, in a child process.

Arrays travel through ``.npy`` files in a temporary folder; a segfault or abort of the runtime
(Paddle Lite 2.13rc0's x86 int8 kernels do that) becomes a RuntimeCrashError, never the caller's
crash. Paddle Lite's Python ``MobileConfig`` has no thread setting, so ``threads`` reaches the
x86 kernels (MKL/OpenMP) through the usual environment variables.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

import numpy as np

from edgekit.errors import InvalidInputError, RuntimeCrashError

RUN_TIMEOUT_S = 300.0

# Paddle Lite's TargetType and PrecisionType enums (lite/api/paddle_place.h), as they appear in
# the kernel keys "op/alias/target/precision/layout" that opt stores in a .nb.
LITE_TARGETS = {0: "unk", 1: "host", 2: "x86", 3: "cuda", 4: "arm", 5: "opencl", 6: "any", 7: "fpga", 8: "npu",
                9: "xpu", 17: "metal", 18: "nnadapter"}
PRECISION_INT8 = 2
HOST_RUNNABLE = frozenset({"host", "x86", "any"})
_KERNEL_KEY = re.compile(rb"([a-z][a-z0-9_]*)/([A-Za-z0-9_]+)/(\d{1,2})/(\d{1,2})/(\d{1,2})\x00?")


@dataclasses.dataclass(frozen=True)
class NbKernels:
    """Which kernels opt picked for a .nb: their targets and whether any runs in int8."""

    targets: frozenset
    int8: bool
    count: int

    @property
    def runs_on_x86(self) -> bool:
        return bool(self.targets) and self.targets <= HOST_RUNNABLE


def inspect_nb(nb_path: Path) -> NbKernels:
    """The kernel keys opt recorded in a .nb (a .nb without a manifest tells nothing else).

    opt stores each op's chosen kernel as a "type/alias/target/precision/layout" string
    attribute; reading those keys is enough to tell an arm .nb from an x86 one and an int8 one
    from a float one, without loading the model.
    """
    data = Path(nb_path).read_bytes()
    targets, int8, count = set(), False, 0
    for match in _KERNEL_KEY.finditer(data):
        target, precision = int(match.group(3)), int(match.group(4))
        if target not in LITE_TARGETS:
            continue
        count += 1
        targets.add(LITE_TARGETS[target])
        int8 = int8 or precision == PRECISION_INT8
    return NbKernels(targets=frozenset(targets), int8=int8, count=count)


def run_nb(nb_path: Path, batch: np.ndarray, *, threads: int = 1, timeout: float = RUN_TIMEOUT_S) -> np.ndarray:
    """Outputs (N, ...) of the x86 ``.nb`` for ``batch`` (N, C, H, W), one sample at a time."""
    from edgekit._workers.runner import run_worker

    nb_path = Path(nb_path)
    if not nb_path.is_file() or nb_path.stat().st_size == 0:
        raise InvalidInputError(f"Paddle Lite model {nb_path} does not exist or is empty")
    if threads < 1:
        raise InvalidInputError(f"threads must be at least 1 (got {threads})")
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    if batch.ndim < 2:
        raise InvalidInputError(f"input batch must have a batch dimension (got shape {batch.shape})")
    thread_env = {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with tempfile.TemporaryDirectory(prefix="edgekit-lite-") as scratch:
        inputs, outputs = Path(scratch) / "input.npy", Path(scratch) / "output.npy"
        np.save(inputs, batch)
        result = run_worker("lite_run", ["--nb", str(nb_path), "--input", str(inputs), "--output", str(outputs)],
                            timeout=timeout, env=thread_env)
        if not result.ok or not outputs.is_file():
            raise RuntimeCrashError(f"Paddle Lite's x86 runtime failed on {nb_path}: {result.describe_exit()}; "
                                    f"it said: {result.last_lines()}")
        return np.load(outputs)
