"""A user's own model end to end: a model folder with a PaddleClas deploy config (BGR, another
mean/std, a fixed-size resize with the nearest filter, a crop, a non-square 48x96 input) and a
label file, through the one resolver into predict, quantize --eval-dir and convert.

The model is MobileNetV3_small_x0_35 with 5 classes, weights random but of realistic scale
(conftest.order_one_state): these tests check plumbing, not accuracy. The reference is Paddle
Inference fed by a preprocessing written here with PIL and numpy, independent of
edgekit.preprocess; the test images are PNGs, which PIL and OpenCV decode to the same pixels.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, order_one_state
from edgekit._paddle import run_paddle_inference
from edgekit.preprocess import sample_images

pytestmark = pytest.mark.slow

CLASSES = ("zero", "one", "two and a half", "three", "four")
MEAN, STD = (0.40, 0.50, 0.60), (0.30, 0.20, 0.25)
RESIZE, CROP = (112, 64), (96, 48)  # (width, height)
CONFIG = f"""\
PreProcess:
  transform_ops:
    - DecodeImage:
        to_rgb: False
    - ResizeImage:
        size: [{RESIZE[0]}, {RESIZE[1]}]
        interpolation: nearest
    - CropImage:
        size: [{CROP[0]}, {CROP[1]}]
    - NormalizeImage:
        scale: 1.0/255.0
        mean: {list(MEAN)}
        std: {list(STD)}
        order: ''
    - ToCHWImage:
PostProcess:
  Topk:
    topk: 3
    class_id_map_file: labels/classes.txt
"""


def _save_model(folder: Path, shape: list) -> Path:
    import paddle

    from edgekit import zoo

    folder.mkdir(parents=True, exist_ok=True)
    with paddle.utils.unique_name.guard():
        paddle.seed(3)
        model = zoo.create_model("MobileNetV3_small_x0_35", class_num=len(CLASSES))
        model.set_state_dict(order_one_state(model, seed=5))
        model.eval()
        spec = paddle.static.InputSpec(shape, "float32", name="x")
        paddle.jit.save(model, str(folder / "inference"), input_spec=[spec])
    return folder


@pytest.fixture(scope="module")
def user_model(tmp_path_factory) -> Path:
    """A model folder as a user brings it: program, weights, inference_cls.yaml, a label file."""
    folder = _save_model(tmp_path_factory.mktemp("user_model") / "textline_cls", [1, 3, CROP[1], CROP[0]])
    (folder / "labels").mkdir()
    (folder / "labels" / "classes.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(CLASSES)))
    (folder / "inference_cls.yaml").write_text(CONFIG)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    """PNG images of the shipped photographs (and their mirror images), about 240 pixels wide."""
    folder = tmp_path_factory.mktemp("png_images")
    made = []
    for index, photo in enumerate(sample_images()):
        with Image.open(photo) as opened:
            rgb = opened.convert("RGB")
        rgb = rgb.resize((240, max(1, round(240 * rgb.height / rgb.width))), Image.BILINEAR)
        for mirrored in (False, True):
            image = rgb.transpose(Image.FLIP_LEFT_RIGHT) if mirrored else rgb
            path = folder / f"{index:02d}{'m' if mirrored else ''}.png"
            image.save(path)
            made.append(path)
    return made


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("resolve_ws")


def independent_tensor(path: Path) -> np.ndarray:
    """The config's preprocessing, written from its definition: PIL decode, OpenCV's nearest
    rule (source index floor(x * src/dst)), center crop, RGB→BGR, (x/255 - mean)/std, CHW."""
    with Image.open(path) as opened:
        rgb = np.asarray(opened.convert("RGB"))
    height, width = rgb.shape[:2]
    ys = np.minimum(np.floor(np.arange(RESIZE[1]) * (1.0 / (RESIZE[1] / height))).astype(int), height - 1)
    xs = np.minimum(np.floor(np.arange(RESIZE[0]) * (1.0 / (RESIZE[0] / width))).astype(int), width - 1)
    resized = rgb[ys][:, xs]
    top, left = (RESIZE[1] - CROP[1]) // 2, (RESIZE[0] - CROP[0]) // 2
    cropped = resized[top:top + CROP[1], left:left + CROP[0]]
    bgr = cropped[:, :, ::-1].astype(np.float32)
    normalized = (bgr * np.float32(1.0 / 255.0) - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return normalized.transpose(2, 0, 1)


def reference_logits(model_dir: Path, paths: list[Path]) -> np.ndarray:
    batch = np.stack([independent_tensor(p) for p in paths])
    return run_paddle_inference(model_dir / "inference.pdmodel", model_dir / "inference.pdiparams", batch)


def _artifacts(workspace: Path, stage: str) -> list[Path]:
    return sorted(p.parent for p in (workspace / stage).rglob("manifest.json")) if (workspace / stage).is_dir() else []


def test_predict_follows_the_deploy_config_and_its_labels(run_cli, user_model, images, shared_workspace):
    env = {"EDGEKIT_WORKSPACE": str(shared_workspace)}
    chosen = [str(p) for p in images[:6]]
    # No --topk: the config's PostProcess.Topk.topk (3) says how many classes.
    data = run_cli("predict", *chosen, "--model", str(user_model), "--json", env=env, check=True).json()
    assert data["description"]["source"] == str(user_model / "inference_cls.yaml")
    assert data["description"]["input_shape"] == [1, 3, 48, 96] and data["description"]["labels"] == 5
    logits = reference_logits(user_model, [Path(p) for p in chosen])
    assert logits.shape == (6, 5) and float(np.abs(logits).max()) > 0.1  # logits of a realistic scale
    for prediction, row in zip(data["predictions"], logits):
        expected = np.argsort(-row, kind="stable")[:3]
        assert [c["class_id"] for c in prediction["top"]] == expected.tolist()
        assert [c["label"] for c in prediction["top"]] == [CLASSES[i] for i in expected]
        probabilities = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        np.testing.assert_allclose([c["score"] for c in prediction["top"]], probabilities[expected], rtol=1e-3)

    # The .nb carries the description in its manifest: predicting from it needs no config.
    converted = _artifacts(shared_workspace, "convert")
    assert len(converted) == 1
    manifest = json.loads((converted[0] / "manifest.json").read_text())
    assert manifest["description"]["preprocess"]["channel_order"] == "BGR"
    assert manifest["description"]["labels"] == list(CLASSES)
    again = run_cli("predict", chosen[0], "--model", str(converted[0] / "model.nb"), "--json", env=env,
                    check=True).json()
    assert again["predictions"][0]["top"] == data["predictions"][0]["top"]  # topk 3 kept in the manifest

    # A flag overrides one field: fed RGB instead, the logits change (the config was applied).
    flipped = run_cli("predict", chosen[0], "--model", str(user_model), "--channel-order", "RGB", "--json",
                      env=env, check=True).json()
    assert [c["score"] for c in flipped["predictions"][0]["top"]] != [c["score"] for c in data["predictions"][0]["top"]]
    one = run_cli("predict", chosen[0], "--model", str(user_model), "--topk", "1", "--json", env=env,
                  check=True).json()
    assert one["predictions"][0]["top"] == data["predictions"][0]["top"][:1]  # --topk wins over the config


def test_quantize_calibrates_and_evaluates_with_the_description(run_cli, user_model, images, shared_workspace,
                                                                tmp_path):
    env = {"EDGEKIT_WORKSPACE": str(shared_workspace)}
    calib = tmp_path / "calib"
    calib.mkdir()
    for path in images[:6]:
        (calib / path.name).write_bytes(path.read_bytes())
    # Labels chosen so fp32's top-1 is known exactly under the config's preprocessing: right for
    # the first four images, wrong for the other four.
    eval_images = images[6:14]
    predicted = reference_logits(user_model, eval_images).argmax(axis=1)
    labels = [int(c) if i < 4 else (int(c) + 1) % len(CLASSES) for i, c in enumerate(predicted)]
    evaluation = tmp_path / "eval"  # class folders named by the model's own labels ('two and a half/')
    for path, label in zip(eval_images, labels):
        (evaluation / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        (evaluation / CLASSES[label] / path.name).write_bytes(path.read_bytes())

    report = run_cli("quantize", str(user_model), "--calib-dir", str(calib), "--batch-nums", "2",
                     "--eval-dir", str(evaluation), "--json", env=env, check=True).json()
    assert report["description"]["source"] == str(user_model / "inference_cls.yaml")
    assert report["eval"]["images"] == 8 and report["eval"]["fp32"]["top1"] == pytest.approx(0.5)
    assert report["eval"]["labels"] == "labels from class folders named by the model's labels"
    # The stored fidelity check ran on the calibration folder's images that were not calibrated.
    held_out = report["fidelity"]["held_out"]
    assert held_out["source"] == str(calib) and held_out["count"] == 4 and report["fidelity"]["overlaps_calibration"] is False
    assert report["calibration"]["count"] == 2
    int8_dir = Path(report["artifact"]["directory"])
    manifest = json.loads((int8_dir / "manifest.json").read_text())
    assert manifest["description"]["source"] == str(user_model / "inference_cls.yaml")
    assert manifest["description"]["input_shape"] == [1, 3, 48, 96]


def test_bad_config_and_label_count_are_one_line_and_leave_no_artifact(run_cli, user_model, images, workspace,
                                                                        tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("    - ToCHWImage:", "    - RandFlipImage:\n    - ToCHWImage:"))
    three = tmp_path / "three.txt"
    three.write_text("0 a\n1 b\n2 c\n")
    image = str(images[0])
    for command, classes in ((("predict", image, "--model", str(user_model)), 5), (("convert", str(user_model)), 5),
                             (("quantize", str(user_model)), 5), (("predict", image, "--model", "MobileNetV1_x0_25"), 1000),
                             (("convert", "MobileNetV1_x0_25_int8"), 1000)):
        refused = run_cli(*command, "--config", str(bad))
        assert refused.returncode == 2 and "unknown transform 'RandFlipImage'" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        mismatch = run_cli(*command, "--labels", str(three))
        assert mismatch.returncode == 2 and "3 labels" in mismatch.stderr and f"has {classes} classes" in mismatch.stderr
        assert f"from {three}, given with --labels" in mismatch.stderr
        assert len(mismatch.stderr.strip().splitlines()) == 1
    assert not any((workspace / stage).exists() for stage in ("export", "quantize", "convert"))


def test_dynamic_input_needs_a_size_and_then_runs_at_it(run_cli, images, tmp_path, workspace):
    folder = _save_model(tmp_path / "dynamic", [None, 3, None, None])
    image = str(images[0])
    missing = run_cli("predict", image, "--model", str(folder))
    assert missing.returncode == 2 and "dynamic" in missing.stderr and "--input-size" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and not (workspace / "convert").exists()

    data = run_cli("predict", image, "--model", str(folder), "--input-size", "64x128", "--json", check=True).json()
    assert data["description"]["input_shape"] == [-1, 3, 64, 128]
    assert data["description"]["preprocess"]["resize_size"] == [128, 64]  # a non-square default: fixed resize
    assert data["predictions"][0]["top"][0]["label"].startswith("class ")  # no labels: class ids

    report = run_cli("quantize", str(folder), "--input-size", "64x128", "--batch-nums", "2", "--json",
                     check=True).json()
    assert report["fidelity"]["images"] == 7 and report["artifact"]["input_shape"][2:] == [-1, -1]

    # --analyze on tune images counts the classes at the described size (it fed zeros of -1 x -1)
    import cv2

    tune = tmp_path / "tune"
    tune.mkdir()
    for i in range(3):
        noise = np.random.default_rng(i).integers(0, 256, (80, 150, 3), dtype=np.uint8)
        cv2.imwrite(str(tune / f"{i}.png"), noise)
    analysis = run_cli("quantize", str(folder), "--input-size", "64x128", "--batch-nums", "2", "--tune-dir",
                       str(tune), "--analyze", "--json")
    assert analysis.returncode == 0, analysis.stderr
    assert analysis.json()["analysis"]["layers"]


def test_zoo_name_with_input_size_is_exported_at_that_size(run_cli, images, workspace):
    """README: `edgekit export NAME --input-size 48x192`; predict/convert of NAME --input-size 48x192
    then use that size (they refused it: 'input height is fixed at 224'); a size the networks cannot
    take fails before any export."""
    image = str(images[0])
    data = run_cli("predict", image, "--model", "MobileNetV1_x0_25", "--input-size", "64x128", "--json",
                   check=True).json()
    assert data["description"]["input_shape"] == [1, 3, 64, 128]
    assert data["description"]["preprocess"]["resize_size"] == [128, 64] and data["description"]["labels"] == 1000
    exports = list((workspace / "export" / "MobileNetV1_x0_25").iterdir())
    assert len(exports) == 1
    assert json.loads((exports[0] / "manifest.json").read_text())["settings"]["input_size"] == [64, 128]

    refused = run_cli("convert", "MobileNetV1_x0_25_int8", "--input-size", "50x128")
    assert refused.returncode == 2 and "--input-size 50x128" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (workspace / "quantize").exists()
    assert len(list((workspace / "export" / "MobileNetV1_x0_25").iterdir())) == 1

    # 'edgekit quantize my_model/' prints 'my_model_int8': that name is not a zoo model's
    unknown = run_cli("convert", "my_model_int8")
    assert unknown.returncode == 2 and "'my_model_int8'" in unknown.stderr
    assert "give the folder 'edgekit quantize' printed" in unknown.stderr
    assert "did you mean MobileNetV1_int8" in run_cli("convert", "MobileNetV1x_int8").stderr


def test_huge_png_is_one_line_and_an_extreme_strip_stays_small(run_cli, user_model, shared_workspace, tmp_path):
    from test_description import _png

    huge = tmp_path / "huge.png"
    huge.write_bytes(_png(33000, 33000))
    refused = run_cli("predict", str(huge), "--model", "MobileNetV1")
    assert refused.returncode == 2 and "larger than edgekit's limit of 90 megapixels" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    strip = tmp_path / "strip.png"
    strip.write_bytes(_png(20000, 1))
    # Resizing its short side to 256 would make 5120000x256 RGB pixels (3.9 GB): refused first.
    measure = ("import resource, subprocess, sys; "
               "p = subprocess.run([sys.executable, '-m', 'edgekit', 'predict', sys.argv[1], '--model', sys.argv[2], "
               "'--resize-short', '256'], capture_output=True, text=True); "
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print(p.stderr.strip())")
    out = subprocess.run([sys.executable, "-c", measure, str(strip), str(user_model)], capture_output=True, text=True,
                         timeout=600, cwd=REPO, env={**__import__("os").environ,
                                                     "EDGEKIT_WORKSPACE": str(shared_workspace)})
    first, message = out.stdout.splitlines()[0], out.stdout.splitlines()[1:]
    code, max_rss_kib = (int(v) for v in first.split())
    assert code == 2 and len(message) == 1 and "aspect ratio is too extreme" in message[0]
    assert max_rss_kib < 1_500_000  # far below the 3.9 GB the resize would take


def test_bench_runs_at_the_descriptions_shape(run_cli, user_model, shared_workspace, adb_server, virtual_device,
                                              tmp_path):
    env = {"EDGEKIT_WORKSPACE": str(shared_workspace)}
    record = run_cli("bench", str(user_model), "--device", "sd855", "--adb-server", adb_server, "--warmup", "1",
                     "--repeats", "3", "--json", env=env, check=True).json()["results"][0]
    assert record["status"] == "ok" and record["settings"]["input_shape"] == "1,3,48,96"

    # A dynamic model is benchmarked at the size its description feeds; a bare .nb keeps the seed's.
    from edgekit.bench.sources import described_input_shape
    from edgekit.convert import convert_model
    from edgekit.description import DescriptionOverrides
    from edgekit.workspace import Workspace

    dynamic = _save_model(tmp_path / "dynamic", [None, 3, None, None])
    lite = convert_model(dynamic, Workspace.open(shared_workspace), target="x86",
                         overrides=DescriptionOverrides(input_size=(64, 128)))
    assert described_input_shape(lite.nb_path) == (1, 3, 64, 128)
    bare = tmp_path / "bare" / "copied.nb"
    bare.parent.mkdir()
    bare.write_bytes(lite.nb_path.read_bytes())
    assert described_input_shape(bare) is None


def test_stages_import_one_way():
    """resolve → tuning → quantize → export → artifacts: no stage module imports a module above it."""
    stack = [["description", "preprocess"], ["artifacts"], ["fuse", "onnx_import"], ["export"],
             ["calibration", "image_roles", "fidelity", "program", "quant_config", "ptq", "quant_eval", "quantize"],
             ["sensitivity"], ["tuning"], ["quant_report"], ["resolve"], ["convert"], ["predict"]]
    for level, modules in enumerate(stack):
        above = {name for higher in stack[level + 1:] for name in higher}
        for module in modules:
            tree = ast.parse((REPO / "edgekit" / f"{module}.py").read_text())
            imported = {node.module.split(".")[1] for node in ast.walk(tree)
                        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edgekit.")}
            imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                         and node.module == "edgekit" for alias in node.names}
            assert not imported & above, f"edgekit/{module}.py imports {sorted(imported & above)}, above it"
