"""quantize end to end with the real PaddleSlim, Paddle Inference and (for MobileNetV3) opt.

A small paddle.nn classifier made here is quantized with and without ``--skip``, in both of
PaddleSlim's formats; its program is read back to check which layers are int8. The sizes of the
seed's int8 artifact are checked on MobileNetV3_large_x1_0_ssld through the convert stage.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import paddle
import pytest
from paddle import nn

from edgekit import calibration
from edgekit.errors import InvalidInputError, QuantizationError, UsageError
from edgekit.fidelity import PaddlePredictor
from edgekit.legalize import read_program
from edgekit.preprocess import sample_images
from edgekit.program import quantized_weights, weight_layers
from edgekit.quant_config import DEFAULT_PRESET, QuantConfig
from edgekit.quantize import REPORT_FILE, quantize_model
from edgekit.workspace import MANIFEST, Workspace

pytestmark = pytest.mark.slow

INPUT = (1, 3, 64, 64)


class SmallNet(nn.Layer):
    """conv-bn-relu, depthwise conv, 1x1 conv, pool, fc: every kind of layer PaddleSlim quantizes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2D(3, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2D(16)
        self.dw = nn.Conv2D(16, 16, 3, stride=2, padding=1, groups=16)
        self.pw = nn.Conv2D(16, 32, 1)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = nn.functional.relu(self.bn(self.stem(x)))
        x = nn.functional.relu(self.pw(nn.functional.relu(self.dw(x))))
        return self.fc(paddle.flatten(self.pool(x), 1))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    """An inference-model folder of SmallNet with logits of order 1 (not 1e-3)."""
    folder = tmp_path_factory.mktemp("smallnet")
    paddle.seed(7)
    model = SmallNet()
    model.fc.weight.set_value(model.fc.weight.numpy() * 30.0)
    model.eval()
    spec = paddle.static.InputSpec(list(INPUT), "float32", name="x")
    paddle.jit.save(model, str(folder / "inference"), input_spec=[spec])
    return folder


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory) -> Workspace:
    return Workspace.open(tmp_path_factory.mktemp("quant_ws"))


def _layers(model_dir: Path) -> dict:
    """layer name → op type of every weight layer of a program."""
    return {layer.name: layer.op_type for layer in weight_layers(read_program(model_dir / "inference.pdmodel"))}


@pytest.fixture(scope="module")
def skipped_run(small_model, module_workspace):
    """The small model quantized with every weight op type, keeping the 1x1 conv float."""
    pointwise = [name for name, op in _layers(small_model).items() if op == "conv2d"][-1]
    config = QuantConfig.from_preset("full", skip_patterns=(pointwise,))
    return pointwise, quantize_model(small_model, module_workspace, config)


def test_skipped_layer_stays_float_and_the_others_are_int8(skipped_run):
    pointwise, result = skipped_run
    program = read_program(result.model.model_file)
    ops = {op.type for op in program.blocks[0].ops}
    assert {"quantize_linear", "dequantize_linear"} <= ops  # onnx_format=True: PaddleSlim 2.6's format
    int8 = quantized_weights(program)
    source_layers = weight_layers(read_program(Path(result.report["source_model"]["directory"]) / "inference.pdmodel"))
    expected = {layer.weight for layer in source_layers if layer.name != pointwise}
    assert int8 == expected
    assert f"{pointwise}.w_0" not in int8
    kept = result.report["layers"]["kept_float"]
    assert [(k["layer"], k["reason"]) for k in kept] == [(pointwise, f"--skip {pointwise}")]
    assert result.report["layers"]["int8_by_type"] == {"conv2d": 1, "depthwise_conv2d": 1, "matmul_v2": 1}


def test_report_fields_and_fidelity_range(skipped_run, small_model):
    _, result = skipped_run
    report = result.report
    assert result.model.name == f"{small_model.name}_int8" == report["model"]
    assert report["preset"] == "full" and report["settings"]["algo"] == "hist"
    assert report["paddleslim_arguments"]["skip_tensor_list"] == [f"{skipped_run[0]}.w_0"]
    assert report["calibration"]["count"] == len(sample_images())
    assert report["calibration"]["images"] == [str(p) for p in sample_images()]
    assert report["tools"]["paddleslim"] == "2.6.0"
    assert 0 < report["seconds"]["paddleslim"] <= report["seconds"]["total"]
    fidelity = report["fidelity"]
    assert fidelity["images"] == len(sample_images())
    assert fidelity["overlaps_calibration"] is True  # default calibration: held-out = mirrored photos
    assert all(item["image"].endswith("(mirrored)") for item in fidelity["per_image"])
    assert 0.0 <= fidelity["top1_agreement"] <= 1.0
    assert -1.0 <= fidelity["cosine_min"] <= fidelity["cosine_mean"] <= 1.0
    # a well-behaved 8-bit network stays close to its float original
    assert fidelity["cosine_mean"] > 0.95 and fidelity["top1_agreement"] >= 5 / 7
    assert "eval" not in report
    saved = json.loads((result.model.directory / REPORT_FILE).read_text())
    assert saved["fidelity"]["cosine_mean"] == pytest.approx(fidelity["cosine_mean"])
    assert (result.model.directory / MANIFEST).is_file()
    assert result.model.directory.parent.name == result.model.name  # quantize/<MODEL>_int8/<key>


def test_int8_program_runs_in_paddle_inference_close_to_fp32(skipped_run, small_model):
    _, result = skipped_run
    batch = calibration.tensors(calibration.calibration_set(None, 3), calibration.preprocess_for(INPUT))
    fp32 = PaddlePredictor(small_model / "inference.pdmodel", small_model / "inference.pdiparams")
    int8 = PaddlePredictor(result.model.model_file, result.model.params_file)
    for sample in batch:
        ref, quant = fp32(sample), int8(sample)
        assert np.abs(ref).max() > 0.5  # logits of order 1: the comparison below means something
        assert np.abs(ref - quant).max() < 0.2 * np.abs(ref).max()


def test_same_settings_reuse_and_force_rebuilds(skipped_run, small_model, module_workspace):
    pointwise, first = skipped_run
    config = QuantConfig.from_preset("full", skip_patterns=(pointwise,))
    again = quantize_model(small_model, module_workspace, config)
    assert again.reused and again.model.directory == first.model.directory
    assert again.report["fidelity"]["cosine_mean"] == pytest.approx(first.report["fidelity"]["cosine_mean"])
    rebuilt = quantize_model(small_model, module_workspace, config, force=True)
    assert not rebuilt.reused and rebuilt.model.directory == first.model.directory
    other = quantize_model(small_model, module_workspace, QuantConfig.from_preset(DEFAULT_PRESET))
    assert other.model.directory != first.model.directory  # other settings, other key
    # the default preset keeps the fc (matmul_v2) float, as PaddleClas's int8 model does
    assert [k["op_type"] for k in other.report["layers"]["kept_float"]] == ["matmul_v2"]


def test_fake_quant_format(small_model, workspace):
    config = QuantConfig.from_preset(DEFAULT_PRESET, onnx_format=False, algo="abs_max")
    result = quantize_model(small_model, Workspace.open(workspace), config)
    program = read_program(result.model.model_file)
    ops = {op.type for op in program.blocks[0].ops}
    assert "fake_channel_wise_dequantize_max_abs" in ops and "quantize_linear" not in ops
    int8_types = {layer.op_type for layer in weight_layers(program) if layer.weight in quantized_weights(program)}
    assert int8_types == {"conv2d", "depthwise_conv2d"}
    assert result.report["fidelity"]["cosine_mean"] > 0.9


def test_eval_dir_gives_top1_top5_of_both_models(small_model, workspace, tmp_path, monkeypatch):
    # label each photograph with fp32's own prediction: fp32 top-1 must then be exactly 1.0
    fp32 = PaddlePredictor(small_model / "inference.pdmodel", small_model / "inference.pdiparams")
    preprocess = calibration.preprocess_for(INPUT)
    eval_dir = tmp_path / "eval"
    for photo in sample_images():
        label = int(fp32(calibration.ImageView(photo).tensor(preprocess)).argmax())
        (eval_dir / str(label)).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, eval_dir / str(label) / photo.name)
    calib_dir = tmp_path / "calib"
    calib_dir.mkdir()
    import cv2  # a mirrored photograph: new pixels, so no evaluation image is a calibration image
    cv2.imwrite(str(calib_dir / "only.png"), np.ascontiguousarray(cv2.imread(str(sample_images()[0]))[:, ::-1]))
    monkeypatch.chdir(tmp_path)
    result = quantize_model(small_model, Workspace.open(workspace), calib_dir=calib_dir, eval_dir=Path("eval"))
    report = result.report
    assert report["calibration"]["count"] == 1
    evaluation = report["eval"]
    assert evaluation["dir"] == str(eval_dir.resolve())  # absolute, whatever the caller's working folder
    assert evaluation["images"] == len(sample_images())
    assert evaluation["fp32"] == {"top1": 1.0, "top5": 1.0}
    assert evaluation["int8"]["top1"] == pytest.approx(evaluation["top1_agreement"])
    assert evaluation["int8"]["top1"] <= evaluation["int8"]["top5"] <= 1.0
    assert evaluation["overlaps_calibration"] is False
    assert report["images"]["calibration"]["count"] == 1 and report["images"]["eval"]["source"] == str(eval_dir.resolve())
    # the stored report is the artifact's own: fidelity on the user's calibration folder, whose one
    # image calibrated, so it is held out mirrored (and said so); no evaluation
    saved = json.loads((result.model.directory / REPORT_FILE).read_text())
    assert "eval" not in saved and saved["fidelity"] == report["fidelity"]
    assert saved["fidelity"]["images"] == 1 and saved["fidelity"]["overlaps_calibration"] is True
    assert saved["fidelity"]["held_out"]["images"] == [f"{calib_dir / 'only.png'} (mirrored)"]
    manifest_before = (result.model.directory / MANIFEST).read_bytes()

    # reused artifact + another labelling: evaluated again for this call; the artifact is unchanged
    (eval_dir / "val_list.txt").write_text("".join(
        f"{p.relative_to(eval_dir)} 0\n" for p in sorted(eval_dir.rglob("*.jpg"))))
    again = quantize_model(small_model, Workspace.open(workspace), calib_dir=calib_dir, eval_dir=eval_dir)
    assert again.reused and again.report["eval"]["labels"].startswith("labels from val_list.txt")
    assert json.loads((again.model.directory / REPORT_FILE).read_text()) == saved
    assert (again.model.directory / MANIFEST).read_bytes() == manifest_before
    plain = quantize_model(small_model, Workspace.open(workspace), calib_dir=calib_dir)
    assert plain.reused and "eval" not in plain.report


@pytest.mark.parametrize("how", ["copy", "same pixels as png"])
def test_eval_images_that_are_calibration_images_are_refused(small_model, workspace, tmp_path, how):
    import cv2

    photo = sample_images()[0]
    (tmp_path / "calib").mkdir()
    (tmp_path / "eval" / "0").mkdir(parents=True)
    shutil.copy(photo, tmp_path / "calib" / "a.jpg")
    if how == "copy":
        shutil.copy(photo, tmp_path / "eval" / "0" / "renamed.jpg")
    else:  # another file holding the same decoded pixels
        cv2.imwrite(str(tmp_path / "eval" / "0" / "b.png"), cv2.imread(str(photo)))
    with pytest.raises(UsageError, match="the calibration and eval images overlap"):
        quantize_model(small_model, Workspace.open(workspace), calib_dir=tmp_path / "calib", eval_dir=tmp_path / "eval")
    assert list(workspace.iterdir()) == []


def test_a_bad_eval_dir_fails_before_quantizing(small_model, workspace, tmp_path):
    (tmp_path / "unlabelled").mkdir()
    shutil.copy(sample_images()[0], tmp_path / "unlabelled" / "a.jpg")
    with pytest.raises(InvalidInputError, match="needs labels"):
        quantize_model(small_model, Workspace.open(workspace), eval_dir=tmp_path / "unlabelled")
    assert list(workspace.iterdir()) == []


# -------------------------------------------------------------------------------------- errors


def test_unreadable_calibration_image_is_named_and_nothing_is_left(small_model, workspace, tmp_path):
    calib = tmp_path / "calib"
    calib.mkdir()
    shutil.copy(sample_images()[0], calib / "good.jpg")
    (calib / "zz_broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(InvalidInputError, match="zz_broken.png"):
        quantize_model(small_model, Workspace.open(workspace), calib_dir=calib)
    assert not (workspace / "quantize").exists()  # images are decoded before any folder is made


def test_corrupt_weights_are_a_quantization_error(small_model, workspace, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_model, broken)
    data = (broken / "inference.pdiparams").read_bytes()
    (broken / "inference.pdiparams").write_bytes(data[: len(data) // 3])
    with pytest.raises(QuantizationError, match="PaddleSlim quant_post_static failed on broken"):
        quantize_model(broken, Workspace.open(workspace))
    assert list(workspace.iterdir()) == []  # no file, and no empty quantize/broken_int8 folder


def test_batch_size_must_fit_the_fixed_batch(small_model, workspace):
    with pytest.raises(UsageError, match="batch_size 4 does not fit .* fixed at 1"):
        quantize_model(small_model, Workspace.open(workspace), QuantConfig.from_preset(DEFAULT_PRESET, batch_size=4))


def test_quantized_model_is_not_quantized_again(skipped_run, workspace):
    _, result = skipped_run
    with pytest.raises(UsageError, match="already quantized"):
        quantize_model(result.model.directory, Workspace.open(workspace))
    with pytest.raises(UsageError, match="MobileNetV1_int8 is already quantized: .*'edgekit quantize MobileNetV1'"):
        quantize_model("MobileNetV1_int8", Workspace.open(workspace))
    assert list(workspace.iterdir()) == []


def test_pretrained_is_refused_for_a_folder(small_model, workspace):
    with pytest.raises(UsageError, match="--pretrained applies to zoo model names"):
        quantize_model(small_model, Workspace.open(workspace), pretrained=True)


def test_missing_model_folder(workspace, tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        quantize_model(tmp_path / "nowhere", Workspace.open(workspace))


# ------------------------------------------------------------------------------------------ CLI


def test_cli_json_then_text_reuse(run_cli, small_model):
    pointwise = [name for name, op in _layers(small_model).items() if op == "conv2d"][-1]
    first = run_cli("quantize", str(small_model), "--preset", "full", "--skip", pointwise, "--batch-nums", "0",
                    "--json", check=True)
    data = first.json()  # stdout is one JSON document: PaddleSlim's logs go to stderr
    assert data["model"] == f"{small_model.name}_int8" and data["reused"] is False
    assert data["settings"]["batch_nums"] is None and "batch_nums" not in data["preset_overrides"]
    assert [k["layer"] for k in data["layers"]["kept_float"]] == [pointwise]
    assert data["layers"]["skip_resolved"] == {pointwise: [pointwise]}  # printed: what the pattern meant
    assert Path(data["artifact"]["model_file"]).is_file()
    second = run_cli("quantize", str(small_model), "--preset", "full", "--skip", pointwise, "--batch-nums", "0",
                     check=True)
    assert "(reused)" in second.stdout and "top-1 agreement" in second.stdout
    assert f"--skip       {pointwise} -> {pointwise}" in second.stdout


def test_cli_is_quiet_unless_verbose(run_cli, small_model):
    quiet = run_cli("quantize", str(small_model), "--algo", "abs_max", "--force", check=True)
    assert quiet.stderr == ""  # no PaddleSlim INFO lines, progress bars, glog lines or warnings
    loud = run_cli("quantize", str(small_model), "--algo", "abs_max", "--force", env={"EDGEKIT_VERBOSE": "1"},
                   check=True)
    assert "Collect quantized variable names" in loud.stderr and "Run batch" in loud.stderr


@pytest.mark.parametrize("args, code, message", [
    (["--preset", "nope"], 2, "unknown preset 'nope'"),
    (["--algo", "median"], 2, "unknown algo 'median'"),
    (["--skip", "fc_*"], 2, "--skip 'fc_*' matches no layer"),
    (["--calib-dir", "{empty}"], 2, "holds no .jpg"),
    (["--quantizable-op-type", "conv2d,conv9d"], 2, "quantizable_op_type conv9d not supported by PaddleSlim"),
])
def test_cli_bad_input_exits_with_one_line(run_cli, small_model, tmp_path, args, code, message):
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty") for a in args]
    result = run_cli("quantize", str(small_model), *args)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_corrupt_program(run_cli, tmp_path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "inference.pdmodel").write_bytes(b"\x00garbage" * 10)
    (folder / "inference.pdiparams").write_bytes(b"\x00" * 64)
    result = run_cli("quantize", str(folder))
    assert result.returncode == 2 and "not a Paddle program" in result.stderr


# ------------------------------------------------------------------- the seed's int8 artifact


def test_mobilenetv3_presets_give_the_seed_storage(module_workspace):
    """paddleclas preset → ARM .nb of about 10 MB (seed: 10); full preset → smaller."""
    from edgekit.convert import convert_model
    from edgekit.reference import find_reference

    seed_mb = find_reference("MobileNetV3_large_x1_0_ssld_int8").storage_mb
    sizes = {}
    for preset in (DEFAULT_PRESET, "full"):
        result = quantize_model("MobileNetV3_large_x1_0_ssld", module_workspace, QuantConfig.from_preset(preset))
        sizes[preset] = convert_model(result.model, module_workspace, target="arm").bytes
    seed_size = sizes[DEFAULT_PRESET]
    # the seed's "M" is MiB for some rows, 10^6 bytes for others: within 10% in either
    assert abs(seed_size / 1e6 - seed_mb) <= 0.1 * seed_mb or abs(seed_size / 2**20 - seed_mb) <= 0.1 * seed_mb
    assert sizes["full"] < 0.7 * seed_size
