"""The parent side of the child processes that run Paddle Lite (opt, the x86 runtime).

``run_worker`` starts ``python -m edgekit._workers.<name> ARGS``, waits with
a time limit and hands back the exit status and what the child printed, so the caller can turn a
crash into a ``ToolError`` that quotes the tool. The child modules import only what they run.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from typing import Mapping, Optional, Sequence


@dataclasses.dataclass(frozen=True)
class WorkerResult:
    returncode: int
    output: str  # stdout and stderr, interleaved as the child wrote them
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe_exit(self) -> str:
        """'exit status 1', 'killed by SIGSEGV', 'ran past the time limit'."""
        if self.timed_out:
            return "ran past its time limit and was killed"
        if self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exit status {self.returncode}"

    def last_lines(self, count: int = 3, width: int = 240) -> str:
        """The last meaningful lines the child printed, joined into one line."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        tail = [line if len(line) <= width else line[: width - 3] + "..." for line in lines[-count:]]
        return " | ".join(tail) if tail else "(nothing)"


def run_worker(name: str, args: Sequence[str], *, timeout: float, env: Optional[Mapping[str, str]] = None) -> WorkerResult:
    """Run ``python -m edgekit._workers.<name> ARGS`` to completion (or ``timeout`` seconds)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    # The child is this interpreter running the installed package (no PYTHONPATH of our own).
    # glog (Paddle Lite's logger) writes to stderr; keep its verbosity at the default.
    command = [sys.executable, "-m", f"edgekit._workers.{name}", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env,
                          stdin=subprocess.DEVNULL) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            return WorkerResult(proc.returncode, output.decode(errors="replace"), timed_out=True)
    return WorkerResult(proc.returncode, output.decode(errors="replace"))
