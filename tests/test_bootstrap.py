"""scripts/bootstrap.sh finds a Python 3.10 (PATH, then pyenv) or stops with a clear message."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BOOTSTRAP = REPO / "scripts" / "bootstrap.sh"
SYSTEM_PATH = "/usr/bin:/bin"


def find_python(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(BOOTSTRAP), "--find-python"], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(any(Path(d, "python3.10").exists() for d in SYSTEM_PATH.split(":")),
                    reason="this machine has a system python3.10")
def test_without_python310_it_stops_with_how_to_get_one(tmp_path):
    result = find_python({"PATH": SYSTEM_PATH, "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "needs Python 3.10" in message and "pyenv install 3.10" in message


@pytest.mark.skipif(shutil.which("pyenv") is None, reason="pyenv is not installed here")
def test_finds_python310_through_pyenv_when_not_on_path(tmp_path):
    pyenv = Path(shutil.which("pyenv"))
    root = subprocess.run([str(pyenv), "root"], capture_output=True, text=True, check=True).stdout.strip()
    env = {"PATH": f"{pyenv.parent}:{SYSTEM_PATH}", "HOME": str(tmp_path), "PYENV_ROOT": root}
    result = find_python(env)
    if result.returncode != 0:
        pytest.skip("pyenv has no 3.10 here")
    python = result.stdout.strip()
    assert python.startswith(root)
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == "(3, 10)"


def test_rejects_unknown_arguments():
    result = subprocess.run(["bash", str(BOOTSTRAP), "--bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "usage" in result.stderr
