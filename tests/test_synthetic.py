"""The trained network of edgekit.synthetic: its rendered data sets and what it is for (a model
whose default int8 loses accuracy on hard images, so accuracy tools can be tested)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from edgekit import calibration, synthetic
from edgekit.workspace import Workspace, sha256_file

SMALL = dataclasses.replace(synthetic.QUANT_SENSITIVE, train_per_class=2)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.png"))


def test_render_is_deterministic_labelled_and_splits_share_no_pixels(tmp_path):
    first = synthetic.render_split(tmp_path / "a", SMALL, "calib", 3, "mixed")
    again = synthetic.render_split(tmp_path / "b", SMALL, "calib", 3, "mixed")
    other = synthetic.render_split(tmp_path / "c", SMALL, "eval", 3, "mixed")
    assert [sha256_file(p) for p in _files(first)] == [sha256_file(p) for p in _files(again)]
    calib_digests = {sha256_file(p) for p in _files(first)}
    assert len(calib_digests) == 3 * len(SMALL.classes)
    assert calib_digests.isdisjoint(sha256_file(p) for p in _files(other))
    assert (first / "labels.txt").read_text().splitlines() == [f"{i} {name}" for i, name in enumerate(SMALL.classes)]
    labelled = calibration.eval_set(first, len(SMALL.classes))
    assert sorted(v.label for v in labelled.views) == sorted(list(range(len(SMALL.classes))) * 3)
    for view in labelled.views:
        assert view.path.parent.name == str(view.label)


def test_hard_images_are_paler_and_smaller_than_easy_ones():
    """The knob of the data set: on hard images the class (hue) is a small difference between
    channels, which is what int8 activations lose."""
    easy, _ = synthetic.render_arrays(SMALL, "eval", 20, "easy")
    hard, _ = synthetic.render_arrays(SMALL, "eval", 20, "hard")

    def chroma(images: np.ndarray) -> float:
        pixels = images.astype(np.float32)
        return float(np.mean(pixels.max(axis=-1) - pixels.min(axis=-1)))

    assert chroma(hard) < 0.6 * chroma(easy)


def test_render_refuses_unknown_split_or_difficulty(tmp_path):
    with pytest.raises(ValueError, match="split"):
        synthetic.render_split(tmp_path, SMALL, "test", 1)
    with pytest.raises(ValueError, match="difficulty"):
        synthetic.render_split(tmp_path, SMALL, "eval", 1, "medium")
    assert not any(tmp_path.iterdir())


def test_recipe_key_follows_every_field():
    assert SMALL.key() == dataclasses.replace(SMALL).key()
    assert SMALL.key() != dataclasses.replace(SMALL, seed=1).key()
    assert SMALL.key() != dataclasses.replace(SMALL, epochs=SMALL.epochs + 1).key()


@pytest.mark.slow
def test_trained_network_is_accurate_on_held_out_hard_images(trained_network, trained_roles):
    from edgekit._paddle import PaddlePredictor
    from edgekit.artifacts import load_inference_model

    model = load_inference_model(trained_network.directory)
    assert model.num_classes == len(trained_network.recipe.classes)
    assert model.description.labels == trained_network.recipe.classes
    assert synthetic.trained_model(trained_network.recipe, trained_network.directory.parent.parent).directory \
        == trained_network.directory  # cached
    images = calibration.eval_set(trained_roles.eval, model.num_classes)
    run = PaddlePredictor(model.model_file, model.params_file)
    transform = calibration.preprocess_for(model.description)
    hits = [int(run(sample).argmax()) == view.label for view, sample in calibration.iter_tensors(images, transform)]
    assert np.mean(hits) >= 0.9


@pytest.mark.slow
def test_default_int8_loses_accuracy_on_hard_images(trained_network, trained_roles, workspace):
    """What makes the network useful: the default preset costs it clearly more than 1 point."""
    from edgekit.quantize import quantize_model

    result = quantize_model(trained_network.directory, Workspace.open(workspace), calib_dir=trained_roles.calib,
                            eval_dir=trained_roles.eval)
    evaluation = result.report["eval"]
    assert not evaluation["overlaps_calibration"]
    assert evaluation["int8"]["top1"] <= evaluation["fp32"]["top1"] - 0.02


@pytest.mark.slow
def test_keeping_the_rescaled_layers_float_recovers(trained_network, trained_roles, workspace):
    """...and what costs it the accuracy is known: the depthwise layers whose input channels the
    recipe spread keep fp32's top-1 within 1 point when kept float."""
    from edgekit.quant_config import QuantConfig
    from edgekit.quantize import quantize_model

    layers = [weight.split(".")[0] for weight in trained_network.report["rescaled_depthwise_weights"]]
    config = QuantConfig.from_preset("paddleclas", skip_patterns=layers)
    result = quantize_model(trained_network.directory, Workspace.open(workspace), config,
                            calib_dir=trained_roles.calib, eval_dir=trained_roles.eval)
    evaluation = result.report["eval"]
    assert evaluation["int8"]["top1"] >= evaluation["fp32"]["top1"] - 0.01
