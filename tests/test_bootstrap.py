"""scripts/bootstrap.sh finds a Python 3.10 (PATH, then pyenv) or stops with a clear message."""

from __future__ import annotations

import shutil
import subprocess
import sys
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


def _tiny_repo(root: Path) -> Path:
    """A checkout with bootstrap.sh and a one-module package without dependencies."""
    (root / "scripts").mkdir(parents=True)
    shutil.copy(BOOTSTRAP, root / "scripts" / "bootstrap.sh")
    (root / "requirements").mkdir()
    (root / "requirements" / "constraints.txt").write_text("")
    (root / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n')
    (root / "setup.cfg").write_text("[metadata]\nname = bootstrap-tiny\nversion = 0.1\n\n"
                                    "[options]\npy_modules = tiny\n")
    (root / "tiny.py").write_text("ANSWER = 42\n")
    return root


def _bootstrap(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": SYSTEM_PATH, "HOME": str(repo), "EDGEKIT_PYTHON": sys.executable}
    return subprocess.run(["bash", str(repo / "scripts" / "bootstrap.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_a_venv_without_pip_is_made_again_and_a_test_install_satisfies_a_plain_run(tmp_path):
    repo = _tiny_repo(tmp_path / "repo")
    venv = repo / ".venv"
    # what an interrupted 'python3.10 -m venv' (no ensurepip) leaves: a python, no pip
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    first = _bootstrap(repo)
    assert first.returncode == 0, first.stderr
    assert "creating" in first.stderr and "installing" in first.stderr
    tiny = subprocess.run([str(venv / "bin" / "python"), "-c", "import tiny; print(tiny.ANSWER)"],
                          capture_output=True, text=True, check=True)
    assert tiny.stdout.strip() == "42"

    stamp = venv / ".edgekit-installed"
    plain = stamp.read_text().strip()
    assert not plain.endswith("-test")
    stamp.write_text(f"{plain}-test\n")  # the stamp a --test run leaves
    again = _bootstrap(repo)
    assert again.returncode == 0 and again.stderr == ""  # nothing to do: the test install covers it
    assert stamp.read_text().strip() == f"{plain}-test"
