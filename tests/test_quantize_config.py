"""quantize settings and image sets: presets, validation, calibration choice, labelled folders.

Fast tests: no paddle import (PaddleSlim runs in test_quantize.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit import calibration
from edgekit.errors import ConfigError, InvalidInputError, UsageError
from edgekit.preprocess import Preprocess, decode_image, sample_images
from edgekit.program import Layer, resolve_skip_patterns
from edgekit.quant_config import DEFAULT_PRESET, QuantConfig, preset_overrides, presets


# ------------------------------------------------------------------------------------ presets


def test_default_preset_is_the_seed_recipe_and_full_adds_the_fc():
    names = presets()
    assert DEFAULT_PRESET in names and "full" in names
    seed = QuantConfig.from_preset(DEFAULT_PRESET)
    full = QuantConfig.from_preset("full")
    assert seed.preset == DEFAULT_PRESET
    # PaddleClas's recipe: convolutions int8, the final nn.Linear (matmul_v2) float
    assert {"conv2d", "depthwise_conv2d"} <= set(seed.quantizable_op_type)
    assert "matmul_v2" not in seed.quantizable_op_type
    assert {"conv2d", "depthwise_conv2d", "matmul_v2", "mul"} <= set(full.quantizable_op_type)
    # every calibration image given is used (up to quantize.MAX_CALIBRATION_IMAGES), not 10 of them
    assert (seed.algo, seed.batch_size, seed.batch_nums) == ("hist", 1, None)
    assert all(names[n].get("description") for n in names)


def test_overrides_replace_preset_values_and_are_reported():
    config = QuantConfig.from_preset("paddleclas", algo="kl", batch_nums=16, hist_percent=None,
                                     quantizable_op_type="conv2d,matmul_v2", skip_patterns=("linear_*",))
    assert config.algo == "KL"  # PaddleSlim's spelling
    assert config.batch_nums == 16
    assert QuantConfig.from_preset("paddleclas", batch_nums=0).batch_nums is None  # 0 = every image
    assert config.hist_percent == 0.9999  # None keeps the preset's value
    assert config.quantizable_op_type == ("conv2d", "matmul_v2")
    assert preset_overrides(config) == {"algo": "KL", "batch_nums": 16,
                                        "quantizable_op_type": ["conv2d", "matmul_v2"],
                                        "skip_patterns": ["linear_*"]}
    assert preset_overrides(QuantConfig.from_preset("full")) == {}


@pytest.mark.parametrize("field, value, fragment", [
    ("algo", "median", "unknown algo 'median'"),
    ("weight_quantize_type", "per_tensor", "unknown weight_quantize_type"),
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("batch_nums", -2, "batch_nums must be a positive integer"),
    ("hist_percent", 1.5, "hist_percent must be in (0, 1]"),
    ("quantizable_op_type", (), "nothing would be quantized"),
])
def test_bad_settings_are_usage_errors(field, value, fragment):
    with pytest.raises(UsageError, match=None) as caught:
        QuantConfig.from_preset(DEFAULT_PRESET, **{field: value})
    assert fragment in str(caught.value)
    assert not isinstance(caught.value, ConfigError)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        QuantConfig.from_preset("tiny")
    assert "unknown preset 'tiny'" in str(caught.value)
    assert DEFAULT_PRESET in str(caught.value) and "full" in str(caught.value)


def test_malformed_preset_file_is_a_config_error(tmp_path, monkeypatch):
    (tmp_path / "quant_presets.yaml").write_text("broken:\n  algo: hist\n  colour: blue\nbad_algo:\n  algo: fancy\n")
    monkeypatch.setenv("EDGEKIT_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="unknown key\\(s\\) colour"):
        QuantConfig.from_preset("broken")
    with pytest.raises(ConfigError, match="preset 'bad_algo' in quant_presets.yaml: unknown algo 'fancy'"):
        QuantConfig.from_preset("bad_algo")


# ------------------------------------------------------------------------------- skip patterns


LAYERS = [
    Layer("conv2d", "conv2d_0.w_0", ("conv2d_0.tmp_0",)),
    Layer("depthwise_conv2d", "conv2d_1.w_0", ("depthwise_conv2d_0.tmp_0",)),
    Layer("conv2d", "conv2d_12.w_0", ("conv2d_9.tmp_0",)),
    Layer("matmul_v2", "linear_0.w_0", ("linear_0.tmp_0",)),
]


def test_skip_patterns_match_layer_and_weight_names_exactly_globs_still_glob():
    resolved = resolve_skip_patterns(LAYERS, ["linear_0", "conv2d_1?.w_0", "conv2d_1*"])
    assert resolved == {"linear_0": ["linear_0.w_0"], "conv2d_1?.w_0": ["conv2d_12.w_0"],
                        "conv2d_1*": ["conv2d_1.w_0", "conv2d_12.w_0"]}
    # "conv2d_1" is a layer name: not conv2d_12 (no prefix match)...
    assert resolve_skip_patterns(LAYERS, ["conv2d_1"]) == {"conv2d_1": ["conv2d_1.w_0"]}
    # ...and not the layer whose OUTPUT tensor Paddle happened to number conv2d_9 (weight conv2d_12)
    assert resolve_skip_patterns(LAYERS, ["conv2d_12"]) == {"conv2d_12": ["conv2d_12.w_0"]}
    with pytest.raises(UsageError, match="matches no layer"):
        resolve_skip_patterns(LAYERS, ["conv2d_9"])  # only an output tensor name
    with pytest.raises(UsageError, match="matches no layer"):
        resolve_skip_patterns(LAYERS, ["depthwise_conv2d_*"])  # output names are not matched


def test_skip_pattern_matching_nothing_is_a_usage_error():
    with pytest.raises(UsageError, match="--skip 'fc_\\*' matches no layer"):
        resolve_skip_patterns(LAYERS, ["fc_*"])


# ---------------------------------------------------------------------------------- calibration


def test_pick_evenly_spreads_over_class_folders():
    items = [f"class{c}/img{i}" for c in range(5) for i in range(10)]
    chosen = calibration.pick_evenly(items, 5)
    assert [c.split("/")[0] for c in chosen] == ["class0", "class1", "class2", "class3", "class4"]
    assert calibration.pick_evenly(items, None) == items
    assert calibration.pick_evenly(items, 500) == items


def test_default_calibration_is_the_shipped_photographs_and_held_out_are_mirrored():
    images = calibration.calibration_set(None, 10)
    assert [v.path for v in images.views] == sample_images()
    digests = set(calibration.file_digests([v.path for v in images.views]))
    held_out, overlaps = calibration.held_out_set(digests)
    assert overlaps and all(v.mirrored for v in held_out.views)
    assert "mirrored views of calibration images" in held_out.note
    path = held_out.views[0].path
    mirrored = held_out.views[0].tensor(Preprocess())
    np.testing.assert_array_equal(mirrored, Preprocess()(np.ascontiguousarray(decode_image(path)[:, ::-1])))
    assert not np.allclose(mirrored, calibration.ImageView(path).tensor(Preprocess()))


def test_held_out_without_overlap_when_calibrating_elsewhere():
    held_out, overlaps = calibration.held_out_set(set())
    assert not overlaps and not any(v.mirrored for v in held_out.views)
    assert len(held_out) == len(sample_images())


def test_empty_calibration_folder_is_invalid_input(tmp_path):
    (tmp_path / "calib").mkdir()
    with pytest.raises(InvalidInputError, match="holds no .jpg"):
        calibration.calibration_set(tmp_path / "calib", 10)
    with pytest.raises(InvalidInputError, match="does not exist"):
        calibration.calibration_set(tmp_path / "missing", 10)


def test_unreadable_image_is_named(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    with pytest.raises(InvalidInputError, match="broken.jpg"):
        calibration.ImageView(broken).tensor(Preprocess())


# ------------------------------------------------------------------------------ labelled sets


def _copy(photo: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(photo, destination)
    return destination


def test_eval_set_from_class_id_folders(tmp_path):
    photos = sample_images()
    _copy(photos[0], tmp_path / "7" / "a.jpg")
    _copy(photos[1], tmp_path / "12" / "b.jpg")
    images = calibration.eval_set(tmp_path, num_classes=1000)
    assert sorted((v.path.name, v.label) for v in images.views) == [("a.jpg", 7), ("b.jpg", 12)]
    with pytest.raises(InvalidInputError, match="outside the model's 10 classes"):
        calibration.eval_set(tmp_path, num_classes=10)


def test_eval_set_from_val_list(tmp_path):
    photos = sample_images()
    _copy(photos[0], tmp_path / "val" / "x.jpg")
    _copy(photos[1], tmp_path / "val" / "y.jpg")
    (tmp_path / "val_list.txt").write_text("val/x.jpg 3\n\nval/y.jpg 0\n")
    images = calibration.eval_set(tmp_path, num_classes=5)
    assert [(v.path.name, v.label) for v in images.views] == [("x.jpg", 3), ("y.jpg", 0)]
    (tmp_path / "val_list.txt").write_text("val/x.jpg three\n")
    with pytest.raises(InvalidInputError, match="line 1"):
        calibration.eval_set(tmp_path, num_classes=5)
    (tmp_path / "val_list.txt").write_text("val/gone.jpg 1\n")
    with pytest.raises(InvalidInputError, match="gone.jpg does not exist"):
        calibration.eval_set(tmp_path, num_classes=5)


def test_eval_set_from_synset_folders_needs_every_class(tmp_path):
    photos = sample_images()
    synsets = ["n01440764", "n01443537", "n01484850"]
    for i, synset in enumerate(synsets):
        _copy(photos[i], tmp_path / synset / f"{i}.jpg")
    images = calibration.eval_set(tmp_path, num_classes=3)
    assert [v.label for v in images.views] == [0, 1, 2]  # sorted synsets = class ids
    with pytest.raises(InvalidInputError, match="3 synset folders but the model has 1000 classes"):
        calibration.eval_set(tmp_path, num_classes=1000)


def test_eval_set_without_labels_is_refused(tmp_path):
    _copy(sample_images()[0], tmp_path / "flat.jpg")
    with pytest.raises(InvalidInputError, match="needs labels"):
        calibration.eval_set(tmp_path, num_classes=1000)
