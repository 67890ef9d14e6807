"""export: zoo model → Paddle inference model (+ ONNX checked against Paddle Inference)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import InvalidInputError, ToolError, UsageError
from edgekit.export import RANDOM_WEIGHTS, check_onnx, export_model, find_exported, load_inference_model, \
    run_paddle_inference
from edgekit.resolve import resolve_inference_model
from edgekit.workspace import MANIFEST, Workspace
from edgekit.zoo import RANDOM_WEIGHTS_NOTE, _pretrained

SMALL = "MobileNetV3_small_x0_35"


def _no_partial_folders(root: Path) -> bool:
    return not [p for p in root.rglob("*") if ".partial" in p.name]


@pytest.mark.slow
def test_export_writes_paddleclas_files_then_reuses(run_cli, workspace: Path):
    first = run_cli("export", SMALL, "--json", check=True).json()
    folder = Path(first["directory"])
    assert folder.parent == workspace / "export" / SMALL
    assert {"inference.pdmodel", "inference.pdiparams", MANIFEST} <= {p.name for p in folder.iterdir()}
    assert first["input_shape"] == [1, 3, 224, 224] and first["reused"] is False and first["onnx_file"] is None
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["stage"] == "export" and manifest["settings"]["input_size"] == 224
    assert manifest["tools"]["paddlepaddle"]

    again = run_cli("export", SMALL, check=True)
    assert again.stdout.startswith(f"reused {SMALL}") and str(folder) in again.stdout
    forced = run_cli("export", SMALL, "--force", "--json", check=True).json()
    assert forced["reused"] is False and forced["directory"] == str(folder)
    # Random initial weights are seeded: a forced export reproduces the same weights.
    assert json.loads((folder / MANIFEST).read_text())["files"]["inference.pdiparams"] == \
        manifest["files"]["inference.pdiparams"]

    other_size = run_cli("export", SMALL, "--input-size", "256", "--json", check=True).json()
    assert other_size["input_shape"] == [1, 3, 256, 256] and other_size["directory"] != str(folder)
    assert _no_partial_folders(workspace)
    # The zoo's description is stored: ImageNet evaluation at the input size, the 1000 labels.
    assert manifest["description"]["preprocess"]["resize_short"] == 256 and len(manifest["description"]["labels"]) == 1000


@pytest.mark.slow
def test_export_non_square_input(run_cli, workspace: Path):
    wide = run_cli("export", SMALL, "--input-size", "48x192", "--json", check=True).json()
    assert wide["input_shape"] == [1, 3, 48, 192]
    manifest = json.loads((Path(wide["directory"]) / MANIFEST).read_text())
    assert manifest["settings"]["input_size"] == [48, 192]
    described = manifest["description"]
    assert described["input_shape"] == [1, 3, 48, 192] and described["preprocess"]["resize_size"] == [192, 48]
    assert described["preprocess"]["crop"] is None  # a non-square zoo input is resized to its size
    refused = run_cli("export", SMALL, "--input-size", "48x100")
    assert refused.returncode == 2 and "--input-size 48x100" in refused.stderr and "multiple of 16" in refused.stderr


@pytest.mark.slow
def test_export_onnx_matches_paddle_inference(workspace: Path, order_one_weights):
    weights = order_one_weights(SMALL)
    model = export_model(SMALL, Workspace.open(workspace), pretrained=str(weights), onnx=True)
    assert model.onnx_file is not None and model.onnx_file.stat().st_size > 1_000_000
    comparison = check_onnx(model.onnx_file, model.model_file, model.params_file, model_name=SMALL)
    assert comparison["ok"] and comparison["top1_agree"]
    assert comparison["max_abs_logit"] > 0.1  # logits of order 1: the relative tolerance means something
    assert comparison["max_abs_diff"] <= 1e-4 * comparison["max_abs_logit"]
    # The weights file is part of the key: the same request finds the same export.
    again = find_exported(SMALL, Workspace.open(workspace), pretrained=str(weights))
    assert again is not None and again.directory == model.directory and again.reused


@pytest.mark.slow
def test_onnx_check_fails_on_a_different_model(workspace: Path, order_one_weights):
    ws = Workspace.open(workspace)
    small = export_model(SMALL, ws, pretrained=str(order_one_weights(SMALL)), onnx=True)
    other = export_model("MobileNetV1_x0_25", ws, pretrained=str(order_one_weights("MobileNetV1_x0_25")))
    with pytest.raises(ToolError, match="ONNX check failed for mixed-up"):
        check_onnx(small.onnx_file, other.model_file, other.params_file, model_name="mixed-up")


@pytest.mark.slow
def test_export_bytes_do_not_depend_on_what_the_process_built_before(run_cli, workspace: Path, tmp_path: Path):
    from edgekit import zoo

    fresh = load_inference_model(Path(run_cli("export", SMALL, "--json", check=True).json()["directory"]))
    zoo.create_model("MobileNetV1_x0_25")  # this process has now named other layers and variables
    busy = export_model(SMALL, Workspace.open(tmp_path / "other_workspace"))
    assert busy.identity() == fresh.identity()


def test_export_bad_requests_are_clear_errors(run_cli, workspace: Path):
    unknown = run_cli("export", "MobileNetV3_large_x1_O")
    assert unknown.returncode == 2 and "unknown model 'MobileNetV3_large_x1_O'" in unknown.stderr
    assert "MobileNetV3_large_x1_0" in unknown.stderr  # did you mean
    bad_size = run_cli("export", SMALL, "--input-size", "100")
    assert bad_size.returncode == 2 and "--input-size 100" in bad_size.stderr
    missing_weights = run_cli("export", SMALL, "--pretrained", str(workspace / "nope.pdparams"))
    assert missing_weights.returncode == 2 and "nope.pdparams" in missing_weights.stderr
    for result in (unknown, bad_size, missing_weights):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (workspace / "export").exists() or not any((workspace / "export").iterdir())


def test_load_inference_model_checks_the_folder(tmp_path: Path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_inference_model(tmp_path / "absent")
    two = tmp_path / "two"
    two.mkdir()
    for stem in ("a", "b"):
        (two / f"{stem}.pdmodel").write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="exactly one .pdmodel"):
        load_inference_model(two)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InvalidInputError, match="not a Paddle inference model"):
        load_inference_model(text)


@pytest.mark.slow
def test_load_inference_model_reads_a_user_folder(workspace: Path, tmp_path: Path):
    exported = export_model(SMALL, Workspace.open(workspace))
    user = tmp_path / "my_model"
    user.mkdir()
    (user / "model.pdmodel").write_bytes(exported.model_file.read_bytes())
    (user / "model.pdiparams").write_bytes(exported.params_file.read_bytes())
    loaded = load_inference_model(user / "model.pdmodel")
    assert loaded.name == "my_model" and loaded.manifest is None and loaded.input_shape == (1, 3, 224, 224)
    assert loaded.identity() == exported.identity()
    batch = np.zeros((1, 3, 224, 224), np.float32)
    np.testing.assert_array_equal(run_paddle_inference(loaded.model_file, loaded.params_file, batch),
                                  run_paddle_inference(exported.model_file, exported.params_file, batch))


@pytest.mark.slow
def test_the_key_hashes_the_weights_that_are_loaded_however_they_are_named(workspace: Path, tmp_path: Path):
    import paddle

    from edgekit import zoo

    name = "ShuffleNetV2_x0_25"
    ws = Workspace.open(workspace)
    paddle.seed(5)
    weights = tmp_path / "mine.pdparams"
    paddle.save(zoo.create_model(name).state_dict(), str(weights))
    first = export_model(name, ws, pretrained=str(weights))
    assert first.weights.startswith("sha256:") and not first.random_weights
    # PaddleClas's habit: the same file named without .pdparams is the same weights, the same export
    assert export_model(name, ws, pretrained=str(tmp_path / "mine")).reused

    # A URL is keyed by the file a download gave: the same bytes are the same export ...
    url = "https://weights.example/models/mine.pdparams"
    cached = _pretrained.cache_path(url, ws.cache_dir / "weights")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(weights.read_bytes())
    assert find_exported(name, ws, pretrained=url).directory == first.directory
    # ... and other bytes under the same URL (a new download) are another export
    paddle.seed(6)
    paddle.save(zoo.create_model(name).state_dict(), str(cached))
    assert find_exported(name, ws, pretrained=url) is None
    official = _pretrained.cache_path(zoo.model_entry(name).pretrained.url, ws.cache_dir / "weights")
    official.parent.mkdir(parents=True)
    official.write_bytes(cached.read_bytes())
    assert find_exported(name, ws, pretrained=True) is None  # not the random export, not "official" by name
    assert export_model(name, ws, pretrained=True).weights == export_model(name, ws, pretrained=url).weights


@pytest.mark.slow
def test_a_reused_random_export_still_says_so(run_cli):
    first = run_cli("export", SMALL, "--json", check=True)
    assert first.json()["weights"] == RANDOM_WEIGHTS
    # the one line a user needs; paddle's glog INFO lines and setuptools' warning are kept quiet
    assert first.stderr.strip().splitlines() == [f"edgekit: {SMALL}: {RANDOM_WEIGHTS_NOTE}"]
    again = run_cli("export", SMALL, "--json", check=True)
    assert again.json()["reused"] is True
    assert again.stderr.count("random weights") == 1


def test_pretrained_goes_with_zoo_names_only(workspace: Path, tmp_path: Path):
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(UsageError, match="--pretrained applies to zoo model names"):
        resolve_inference_model(folder, Workspace.open(workspace), pretrained=True)
    with pytest.raises(InvalidInputError, match="does not exist"):
        resolve_inference_model("./nowhere", Workspace.open(workspace))


def test_a_failed_download_leaves_no_folder(run_cli, workspace: Path):
    import socket

    with socket.socket() as s:  # a port nobody listens on: the download fails as without network
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/dygraph/w.pdparams"
    result = run_cli("export", "MobileNetV1_x0_25", "--pretrained", url)
    assert result.returncode == 2 and f"cannot download {url}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(workspace.iterdir()) == []
