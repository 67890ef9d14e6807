"""Shared fixtures: a temporary workspace and a runner for the real ``edgekit`` command."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def run_cli(workspace: Path):
    """Run ``edgekit ARGS...`` in a child process with the test workspace; returns CliResult."""

    def run(*args: str, timeout: float = 600, env: dict | None = None, check: bool = False) -> CliResult:
        full_env = dict(os.environ, EDGEKIT_WORKSPACE=str(workspace), PYTHONUNBUFFERED="1")
        full_env.update(env or {})
        proc = subprocess.run([sys.executable, "-m", "edgekit", *args], capture_output=True, text=True,
                              timeout=timeout, env=full_env, cwd=REPO)
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"edgekit {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return result

    return run
