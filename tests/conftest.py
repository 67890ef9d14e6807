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

# adb servers and virtual devices: adb_server, virtual_device, second_adb_server_with_device, ...
pytest_plugins = ["device_fixtures"]


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


# ------------------------------------------------------------- weights with logits of order 1


def order_one_state(model: Any, seed: int = 1) -> dict:
    """A state dict for ``model`` whose logits are of order 1.

    Randomly initialised zoo models give logits of about 1e-7, so a check relative to the
    largest logit proves nothing; He-initialised convolutions, unit BatchNorm statistics and a
    1/sqrt(fan_in) classifier keep activations, and so logits, at a realistic scale.
    """
    import numpy as np

    rs = np.random.RandomState(seed)
    state = {}
    for key, value in model.state_dict().items():
        array = value.numpy()
        if key.endswith("_mean"):
            new = np.zeros_like(array)
        elif key.endswith("_variance"):
            new = np.ones_like(array)
        elif array.ndim == 4:  # conv [out, in/groups, kh, kw]
            new = rs.standard_normal(array.shape) * np.sqrt(2.0 / np.prod(array.shape[1:]))
        elif array.ndim == 2:  # linear [in, out]
            new = rs.standard_normal(array.shape) * np.sqrt(1.0 / array.shape[0])
        elif key.endswith("weight"):  # BatchNorm scale
            new = np.ones_like(array)
        else:  # biases
            new = rs.standard_normal(array.shape) * 0.1
        state[key] = new.astype(array.dtype)
    return state


@pytest.fixture(scope="session")
def order_one_weights(tmp_path_factory):
    """Factory: ``order_one_weights(name)`` → a .pdparams for zoo model ``name`` (see order_one_state)."""
    folder = tmp_path_factory.mktemp("order_one_weights")

    def make(name: str) -> Path:
        path = folder / f"{name}.pdparams"
        if not path.exists():
            import paddle

            from edgekit import zoo

            paddle.seed(0)
            model = zoo.create_model(name)
            paddle.save(order_one_state(model), str(path))
        return path

    return make


# ------------------------------------------------------------------ a trained network (issue 8)


@pytest.fixture(scope="session")
def trained_network():
    """A MobileNetV3 trained on images edgekit renders (edgekit.synthetic.QUANT_SENSITIVE): built
    once per machine (a few minutes on 2 cores), then reused from the cache; a TrainedModel."""
    from edgekit import synthetic

    return synthetic.trained_model(synthetic.QUANT_SENSITIVE)


@pytest.fixture(scope="session")
def trained_roles(tmp_path_factory, trained_network):
    """Disjoint labelled calib (small, mixed), tune and eval (hard) folders for ``trained_network``."""
    from edgekit import synthetic

    return synthetic.render_roles(tmp_path_factory.mktemp("trained_roles"), trained_network.recipe)
