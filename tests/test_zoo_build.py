"""zoo build: many models in parallel worker processes, resumable, with the storage table."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edgekit.errors import UsageError
from edgekit.zoo_build import select_models

PAIR = ["MobileNetV1_x0_25", "ShuffleNetV2_x0_33"]


@pytest.mark.slow
def test_zoo_build_parallel_then_resumed(run_cli, workspace: Path):
    first = run_cli("zoo", "build", PAIR[0], "--jobs", "2", "--json", check=True).json()
    assert first["built"] == 1 and first["ok"] is True

    result = run_cli("zoo", "build", *PAIR, "--jobs", "2", "--json", check=True)
    data = result.json()
    assert [m["model"] for m in data["models"]] == PAIR
    assert [m["status"] for m in data["models"]] == ["reused", "built"]  # resumed: the first one is kept
    for model in data["models"]:
        assert Path(model["nb_path"]).is_file() and Path(model["nb_path"]).stat().st_size == model["bytes"]
        storage = model["storage"]
        assert storage["seed_storage_m"] > 0 and storage["matches"] is True
    assert "zoo build" in result.stderr  # the progress bar goes to stderr, never into the JSON

    started = time.perf_counter()
    warm = run_cli("zoo", "build", *PAIR, check=True)
    assert time.perf_counter() - started < 10
    lines = warm.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "status", "nb"] and "seed M" in lines[0]
    assert all(any(line.startswith(name) and " reused " in line for line in lines) for name in PAIR)
    assert "0 built, 2 reused, 0 failed" in warm.stdout
    assert "note: random weights" in warm.stdout  # reused artifacts still say what they are
    assert not [p for p in workspace.rglob("*") if ".partial" in p.name]


@pytest.mark.slow
def test_zoo_build_int8_quantizes_then_converts(run_cli, workspace: Path):
    from edgekit.lite_runtime import inspect_nb

    name = "MobileNetV3_small_x0_35"
    data = run_cli("zoo", "build", name, "--int8", "--json", check=True).json()
    fp32, int8 = data["models"]
    assert (fp32["model"], int8["model"]) == (name, f"{name}_int8")
    assert inspect_nb(Path(int8["nb_path"])).int8 and not inspect_nb(Path(fp32["nb_path"])).int8
    assert int8["bytes"] < fp32["bytes"]
    assert fp32["storage"]["matches"] is True and fp32["storage"]["reason"] is None
    assert int8["storage"]["matches"] is None and "int8" in int8["storage"]["reason"]  # not held to the 3% rule
    assert fp32["random_weights"] is True and int8["random_weights"] is True
    assert (workspace / "quantize" / f"{name}_int8").is_dir()
    again = run_cli("zoo", "build", name, "--int8", "--json", check=True).json()
    assert [m["status"] for m in again["models"]] == ["reused", "reused"]


def test_zoo_build_bad_requests(run_cli):
    for args, words in ((("zoo", "build"), "give model names"),
                        (("zoo", "build", "MobileNetV1", "--all"), "not both"),
                        (("zoo", "build", "MobileNetV9"), "unknown model 'MobileNetV9'"),
                        (("zoo", "build", "MobileNetV1", "--target", "riscv"), "unknown target 'riscv'"),
                        (("zoo", "build", "MobileNetV1", "--jobs", "0"), "--jobs")):
        result = run_cli(*args)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_select_models():
    everything = select_models([], all_models=True, int8=False)
    assert len(everything) == 32 and everything[0] == "MobileNetV1_x0_25"
    assert "MobileNetV3_large_x1_0_ssld_int8" in everything
    assert select_models(["MobileNetV1", "MobileNetV1"], all_models=False, int8=True) == \
        ["MobileNetV1", "MobileNetV1_int8"]
    with_int8 = select_models([], all_models=True, int8=True)
    assert with_int8.count("MobileNetV3_large_x1_0_ssld_int8") == 1 and len(with_int8) == 62  # 31 float + 31 int8
    with pytest.raises(UsageError):
        select_models([], all_models=False, int8=False)
