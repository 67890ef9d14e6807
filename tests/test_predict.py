"""predict: PaddleClas preprocessing → x86 .nb in Paddle Lite's runtime → top-k ImageNet classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.export import run_paddle_inference
from edgekit.predict import softmax, top_k
from edgekit.preprocess import Preprocess, imagenet_labels, sample_images

MODEL = "MobileNetV3_small_x0_35"


@pytest.mark.slow
def test_predict_json_matches_paddle_inference(run_cli, workspace: Path, order_one_weights):
    images = [str(p) for p in sample_images()]
    weights = str(order_one_weights(MODEL))
    data = run_cli("predict", *images, "--model", MODEL, "--pretrained", weights, "--topk", "3", "--json",
                   check=True).json()
    assert data["trusted"] is True and data["warning"] is None and data["quantized"] is False
    assert Path(data["nb_path"]).parent.parent == workspace / "convert" / MODEL
    assert [p["image"] for p in data["predictions"]] == images

    # The same images through Paddle Inference on the exported program give the same ranking.
    export = next((workspace / "export" / MODEL).iterdir())
    logits = run_paddle_inference(export / "inference.pdmodel", export / "inference.pdiparams",
                                  Preprocess().batch(images))
    labels = imagenet_labels()
    for prediction, row in zip(data["predictions"], softmax(logits)):
        expected = np.argsort(-row)[:3]
        assert [c["class_id"] for c in prediction["top"]] == expected.tolist()
        assert [c["label"] for c in prediction["top"]] == [labels[i] for i in expected]
        np.testing.assert_allclose([c["score"] for c in prediction["top"]], row[expected], rtol=1e-3, atol=1e-6)
        scores = [c["score"] for c in prediction["top"]]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6

    # The .nb itself can be given; an arm .nb is refused rather than run to give garbage.
    text = run_cli("predict", images[0], "--model", data["nb_path"], "--topk", "2", check=True).stdout
    assert images[0] in text and "1. " in text and "2. " in text and "WARNING" not in text
    from_folder = run_cli("predict", images[0], "--model", str(Path(data["nb_path"]).parent), "--json",
                          check=True).json()
    assert [c["class_id"] for c in from_folder["predictions"][0]["top"][:3]] == \
        [c["class_id"] for c in data["predictions"][0]["top"]]  # a convert folder works like its .nb
    arm = run_cli("convert", MODEL, "--pretrained", weights, "--json", check=True).json()
    refused = run_cli("predict", images[0], "--model", arm["nb_path"])
    assert refused.returncode == 2 and "optimized for arm, not x86" in refused.stderr


@pytest.mark.slow
def test_random_weights_are_never_trusted_even_when_reused(run_cli, workspace: Path):
    image = str(sample_images()[0])
    model = "MobileNetV1_x0_25"
    first = run_cli("predict", image, "--model", model, "--json", check=True)
    again = run_cli("predict", image, "--model", model, "--json", check=True)  # export and .nb reused
    for result in (first, again):
        data = result.json()
        assert data["trusted"] is False and "random weights" in data["warning"]
        assert result.stderr.count(f"{model}: random weights") == 1
    nb = again.json()["nb_path"]
    by_path = run_cli("predict", image, "--model", nb, "--json", check=True).json()
    assert by_path["trusted"] is False and "random weights" in by_path["warning"]


def test_unreadable_image_is_named_before_any_work(run_cli, workspace: Path, tmp_path: Path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = run_cli("predict", str(sample_images()[0]), str(broken), "--model", MODEL)
    assert result.returncode == 2 and str(broken) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    missing = run_cli("predict", str(tmp_path / "absent.png"), "--model", MODEL)
    assert missing.returncode == 2 and "absent.png" in missing.stderr
    assert not (workspace / "convert").exists() and not (workspace / "export").exists()


def test_predict_needs_a_model_and_sane_options(run_cli):
    image = str(sample_images()[0])
    assert run_cli("predict", image).returncode == 2  # --model is required (click usage error)
    bad_topk = run_cli("predict", image, "--model", MODEL, "--topk", "0")
    assert bad_topk.returncode == 2 and "--topk" in bad_topk.stderr


def test_softmax_and_top_k():
    logits = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 0.0]])
    probabilities = softmax(logits)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert [c.class_id for c in top_k(probabilities[0], 2, ["a", "b", "c"])] == [1, 2]
    assert top_k(probabilities[0], 1, ["a", "b", "c"])[0].label == "b"
    already = np.array([[0.7, 0.2, 0.1]])  # a model with a softmax head: left as it is
    np.testing.assert_array_equal(softmax(already), already)
