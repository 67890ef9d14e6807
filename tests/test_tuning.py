"""Layer sensitivity (--analyze) and accuracy targets (--max-drop / --min-agreement) end to end,
with the real PaddleSlim and Paddle Inference, on a small network trained here for a few seconds
on rendered shapes (random weights would make every accuracy figure meaningless), then given one
outlier activation channel by a function-preserving reparametrization (add_outlier_channel): the
plain int8 model falls to chance on the held-out images, keeping the one layer that reads the
outlier float brings it back to fp32 (measured here: fp32 0.70, plain int8 0.25, tuned 0.70 on
40 eval images).

The derived programs the search runs on are checked against what PaddleSlim itself saves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import paddle
import pytest
from paddle import nn

from edgekit import calibration, sensitivity, tuning
from edgekit.artifacts import load_inference_model
from edgekit.fidelity import PaddlePredictor, cosine
from edgekit.legalize import read_program
from edgekit.quant_config import QuantConfig
from edgekit.quantize import quantize_model
from edgekit.workspace import Workspace

pytestmark = pytest.mark.slow

SIZE = 32
CLASSES = 4


def _render(rng: np.random.Generator, label: int) -> np.ndarray:
    """A noisy 36x36 RGB image of one of four shapes (the preprocessing crops 32 of it)."""
    size = SIZE + 4
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    cx, cy = rng.uniform(-0.1, 0.1, 2)
    r = rng.uniform(0.18, 0.3)
    x, y = xx - cx, yy - cy
    mask = [np.hypot(x, y) < r, np.maximum(abs(x), abs(y)) < r * 0.8,
            (abs(x) < r * 0.3) | (abs(y) < r * 0.3), abs(np.hypot(x, y) - r * 0.8) < r * 0.25][label]
    if label == 2:
        mask &= np.maximum(abs(x), abs(y)) < r
    image = rng.normal(110, 40, (size, size, 3))
    image[mask] += rng.uniform(50, 90)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write(folder: Path, split_seed: int, per_class: int) -> Path:
    import cv2

    for label in range(CLASSES):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng([split_seed, label, i])
            cv2.imwrite(str(folder / str(label) / f"{i:03d}.png"), _render(rng, label)[:, :, ::-1])
    return folder


class ShapeNet(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2D(3, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2D(16)
        self.dw = nn.Conv2D(16, 16, 3, padding=1, groups=16)
        self.pw = nn.Conv2D(16, 32, 1)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(32, CLASSES)

    def forward(self, x):
        x = nn.functional.relu(self.bn(self.stem(x)))
        x = nn.functional.relu(self.pw(nn.functional.hardswish(self.dw(x))))
        return self.fc(paddle.flatten(self.pool(x), 1))


def add_outlier_channel(model: ShapeNet, channel: int = 0, factor: float = 1000.0) -> None:
    """The same function with one activation channel ``factor`` times larger at the depthwise
    layer's input: batch norm's scale and shift of the channel times ``factor`` (relu is
    positively homogeneous), the depthwise filter of that channel divided by it. Outlier channels
    like this are what make real networks (MobileNetV3) lose accuracy in per-tensor int8: the
    input's one scale leaves the other channels a few levels."""
    with paddle.no_grad():
        for parameter in (model.bn.weight, model.bn.bias):
            values = parameter.numpy()
            values[channel] *= factor
            parameter.set_value(values)
        weights = model.dw.weight.numpy()
        weights[channel] /= factor
        model.dw.weight.set_value(weights)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A ShapeNet trained for a few seconds, and disjoint calib/tune/eval folders."""
    root = tmp_path_factory.mktemp("tuning")
    train = _write(root / "train", 1, 60)
    folders = {name: _write(root / name, seed, count) for name, seed, count in
               (("calib", 2, 4), ("tune", 3, 10), ("eval", 4, 10))}
    preprocess = calibration.preprocess_for((1, 3, SIZE, SIZE))
    views = calibration.eval_set(train, CLASSES).views
    x = np.stack([v.tensor(preprocess) for v in views]).astype(np.float32)
    y = np.array([v.label for v in views])
    paddle.seed(0)
    model = ShapeNet()
    optimizer = paddle.optimizer.Adam(learning_rate=0.005, parameters=model.parameters())
    order = np.random.default_rng(0)
    for _ in range(20):
        model.train()
        for batch in np.array_split(order.permutation(len(x)), len(x) // 24):
            loss = nn.functional.cross_entropy(model(paddle.to_tensor(x[batch])), paddle.to_tensor(y[batch]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
    model.eval()
    before = model(paddle.to_tensor(x)).numpy()
    add_outlier_channel(model)
    after = model(paddle.to_tensor(x)).numpy()
    assert np.allclose(before, after, rtol=1e-3, atol=1e-3 * np.abs(before).max())  # the same function
    spec = paddle.static.InputSpec([1, 3, SIZE, SIZE], "float32", name="x")
    paddle.jit.save(model, str(root / "model" / "inference"), input_spec=[spec])
    accuracy = float((after.argmax(1) == y).mean())
    return {"model": root / "model", "train_top1": accuracy, **folders}


@pytest.fixture(scope="module")
def base(trained, tmp_path_factory):
    ws = Workspace.open(tmp_path_factory.mktemp("ws"))
    fp32 = load_inference_model(trained["model"])
    return fp32, ws, quantize_model(fp32, ws, QuantConfig.from_preset("paddleclas"), calib_dir=trained["calib"])


def test_the_network_is_trained(trained):
    assert trained["train_top1"] > 0.6  # four classes: chance is 0.25


def test_derived_programs_are_what_paddleslim_saves(trained, base):
    """All float = the fp32 model; all int8 = PaddleSlim's program; layer L float = PaddleSlim's
    program with --skip L (same calibration), each on Paddle Inference."""
    fp32, ws, int8 = base
    variants = sensitivity.ProgramVariants(fp32, int8.model)
    weights = [q.layer.weight for q in variants.layers]
    assert len(weights) == 3  # stem, dw, pw: the fc (matmul_v2) is not in the preset's op types
    layer = variants.layers[1]
    skipped = quantize_model(fp32, ws, QuantConfig.from_preset("paddleclas", skip_patterns=(layer.name,)),
                             calib_dir=trained["calib"])
    # the skipped layer reads its weight AND its input unquantized (program.float_inputs)
    ops = read_program(skipped.model.model_file).blocks[0].ops
    op = next(op for op in ops if layer.layer.weight in [a for slot in op.inputs for a in slot.arguments])
    assert not [a for slot in op.inputs for a in slot.arguments if a.endswith(".quantized.dequantized")]
    preprocess = calibration.preprocess_for(fp32.described())
    runs = {"fp32": (variants.variant(weights, all_activations_float=True),
                     PaddlePredictor(fp32.model_file, fp32.params_file)),
            "int8": (variants.variant(), PaddlePredictor(int8.model.model_file, int8.model.params_file)),
            "skip": (variants.variant([layer.layer.weight]),
                     PaddlePredictor(skipped.model.model_file, skipped.model.params_file))}
    for view in calibration.eval_set(trained["eval"], CLASSES).views[:6]:
        sample = view.tensor(preprocess)
        for name, (desc, predictor) in runs.items():
            derived, real = variants.run(desc, sample)[0].ravel(), predictor(sample)
            if name == "skip":  # PaddleSlim also re-orders the skipped layer's quantize ops: equal to ~1e-3
                assert cosine(derived, real) > 0.9999 and derived.argmax() == real.argmax()
            else:
                assert np.allclose(derived, real, rtol=1e-4, atol=1e-4), name


def test_analyze_ranks_every_int8_layer(trained, base):
    fp32, ws, int8 = base
    images = calibration.eval_set(trained["tune"], CLASSES)
    result = sensitivity.analyze(fp32, int8, images)
    assert sorted(result.ranking()) == sorted(q.name for q in sensitivity.ProgramVariants(fp32, int8.model).layers)
    assert [e["rank"] for e in result.layers] == [1, 2, 3]
    cosines = [e["cosine"] for e in result.layers]
    assert cosines == sorted(cosines) and all(0 < c <= 1.0 for c in cosines)
    # the depthwise layer reads the outlier channel: its other channels keep a few int8 levels
    first, *others = result.layers
    assert first["op_type"] == "depthwise_conv2d" and first["rmse_over_scale"] > 5 and first["cosine"] < 0.9
    for entry in others:
        assert 0 < entry["rmse_over_scale"] < 2 and entry["cosine"] > 0.99  # rounding noise: ~0.3 steps
    for entry in result.layers:
        assert entry["weight_bytes_fp32"] == 4 * entry["weight_bytes_int8"] > 0
        assert 0 <= entry["top1"] <= 1 and 0 <= entry["top1_agreement"] <= 1
    assert result.images["count"] == len(images) and result.images["labelled"] is True


def test_cli_analyze_table_json_and_png(run_cli, trained, tmp_path):
    chart = tmp_path / "sens.png"
    result = run_cli("quantize", str(trained["model"]), "--calib-dir", str(trained["calib"]), "--tune-dir",
                     str(trained["tune"]), "--analyze", "--plot", str(chart), "--json", check=True)
    assert result.stderr == ""  # no paddle/PaddleSlim chatter
    data = result.json()
    layers = data["analysis"]["layers"]
    assert [e["rank"] for e in layers] == list(range(1, len(layers) + 1)) and len(layers) == 3
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and data["plot"] == str(chart)
    text = run_cli("quantize", str(trained["model"]), "--calib-dir", str(trained["calib"]), "--tune-dir",
                   str(trained["tune"]), "--analyze", check=True).stdout
    assert "rmse/step" in text and layers[0]["layer"] in text.splitlines()[5]  # the first row is rank 1


def test_target_keeps_float_the_layers_analyze_ranks_first(run_cli, trained):
    common = ["quantize", str(trained["model"]), "--calib-dir", str(trained["calib"]), "--tune-dir",
              str(trained["tune"])]
    ranking = [e["layer"] for e in run_cli(*common, "--analyze", "--json", check=True).json()["analysis"]["layers"]]
    # 100% agreement with fp32 on every tune image: only met with layers float (or not at all)
    result = run_cli(*common, "--min-agreement", "100", "--eval-dir", str(trained["eval"]), "--json")
    data = result.json()
    tuning_ = data["tuning"]
    kept = [k["layer"] for k in tuning_["kept_float"]]
    assert kept == ranking[:len(kept)]  # the most sensitive first, as --analyze ranked them
    assert result.returncode == (0 if tuning_["target_met"] else tuning.TARGET_NOT_MET_EXIT)
    chosen = [k for k in data["layers"]["kept_float"] if k["layer"] in kept]  # really float in the program
    assert sorted(k["layer"] for k in chosen) == sorted(kept)
    assert all(k["reason"].startswith("accuracy target (sensitivity rank") for k in chosen)
    for entry in tuning_["kept_float"]:
        assert entry["extra_bytes"] == entry["weight_bytes_fp32"] - entry["weight_bytes_int8"] > 0
    assert tuning_["steps"][0]["float_layers"] == 0
    assert set(data["images"]) >= {"calibration", "tune", "eval"} and data["eval"]["images"] == 40
    assert "top5" not in data["eval"]["fp32"]  # 4 classes: top-5 would always be 1.0


def test_target_met_on_held_out_eval_images_and_beats_the_untuned_default(run_cli, trained):
    common = ["quantize", str(trained["model"]), "--calib-dir", str(trained["calib"]),
              "--eval-dir", str(trained["eval"])]
    untuned = run_cli(*common, "--json", check=True).json()["eval"]
    result = run_cli(*common, "--tune-dir", str(trained["tune"]), "--max-drop", "1.0", "--json")
    data = result.json()
    tuned = data["eval"]
    figures = (untuned["fp32"], untuned["int8"], tuned["int8"], data["tuning"]["kept_float"])
    assert result.returncode == 0 and data["tuning"]["target_met"] is True
    assert data["tuning"]["verified"]["drop_points"] <= 1.0
    # on the eval images, which played no part in any choice: within 1.0 point of fp32, and
    # better than the untuned default (the outlier channel costs it most of its accuracy)
    assert tuned["fp32"]["top1"] - tuned["int8"]["top1"] <= 0.01 + 1e-9, figures
    assert tuned["int8"]["top1"] > untuned["int8"]["top1"] + 0.1, figures
    assert data["tuning"]["kept_float"][0]["layer"] == data["sensitivity"]["layers"][0]["layer"]
    assert data["tuning"]["seconds"]["total"] <= 10 * data["tuning"]["seconds"]["plain_quantization"] + 30


def test_a_target_that_cannot_be_met_within_max_float_layers_exits_6_naming_the_best_model(run_cli, trained):
    """--max-float-layers 0 forbids the one layer that would recover the outlier network: the
    report is still printed, target_met is false, and exit code 6 and stderr name the best model."""
    result = run_cli("quantize", str(trained["model"]), "--calib-dir", str(trained["calib"]), "--tune-dir",
                     str(trained["tune"]), "--max-drop", "1.0", "--max-float-layers", "0", "--json")
    assert result.returncode == 6, result.stderr
    tuning_ = result.json()["tuning"]
    assert tuning_["target_met"] is False and tuning_["kept_float"] == []
    assert all(step["float_layers"] == 0 for step in tuning_["steps"])
    best = result.json()["artifact"]["directory"]
    assert best in tuning_["note"] and best in result.stderr and "not met" in result.stderr


def test_min_agreement_needs_no_labels(run_cli, trained, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in sorted(trained["tune"].rglob("*.png")):
        shutil.copy(p, flat / f"{p.parent.name}_{p.name}")
    result = run_cli("quantize", str(trained["model"]), "--calib-dir", str(trained["calib"]), "--tune-dir",
                     str(flat), "--min-agreement", "90", "--json")
    data = result.json()
    assert result.returncode == 0 and data["tuning"]["target_met"] is True
    assert data["tuning"]["tune"]["labelled"] is False and "top1" not in data["tuning"]["verified"]
    assert data["tuning"]["verified"]["agreement_percent"] >= 90
    assert data["calibration"]["limit"].startswith("every image given, up to 256")


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("case, message", [
    ("unlabelled tune", "--tune-dir: evaluation folder"),
    ("target above 100", "--max-drop must be between 0 and 100"),
    ("negative agreement", "--min-agreement must be between 0 and 100"),
    ("tune overlaps calibration", "the calibration and tune images overlap"),
    ("eval overlaps tune (pixels)", "the tune and eval images overlap"),
    ("no tune dir", "needs --tune-dir"),
    ("plot into a missing folder", "does not exist"),
    ("fake-quant format", "work on PaddleSlim's ONNX format"),
])
def test_bad_input_one_line_no_artifact(run_cli, trained, workspace, tmp_path, case, message):
    import cv2

    args = ["--calib-dir", str(trained["calib"]), "--tune-dir", str(trained["tune"]), "--max-drop", "1"]
    if case == "unlabelled tune":
        flat = tmp_path / "flat"
        flat.mkdir()
        for p in sorted(trained["tune"].rglob("*.png"))[:4]:
            shutil.copy(p, flat / f"{p.parent.name}_{p.name}")
        args[3] = str(flat)
    elif case == "target above 100":
        args[-1] = "150"
    elif case == "negative agreement":
        args[-2:] = ["--min-agreement", "-1"]
    elif case == "tune overlaps calibration":
        args[3] = str(trained["calib"])
    elif case == "eval overlaps tune (pixels)":
        eval_dir = tmp_path / "eval" / "0"
        eval_dir.mkdir(parents=True)
        source = sorted(trained["tune"].rglob("*.png"))[0]
        cv2.imwrite(str(eval_dir / "same.bmp"), cv2.imread(str(source)))  # other file, same pixels
        args += ["--eval-dir", str(tmp_path / "eval")]
    elif case == "no tune dir":
        args = args[:2] + args[4:]
    elif case == "fake-quant format":
        args.append("--no-onnx-format")
    elif case == "plot into a missing folder":
        args = args[:4] + ["--analyze", "--plot", str(tmp_path / "missing" / "chart.png")]
    result = run_cli("quantize", str(trained["model"]), *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == "" and not (workspace / "quantize").exists()


def test_a_model_with_no_quantizable_layer_is_refused(run_cli, workspace, tmp_path):
    class NoWeights(nn.Layer):  # parameters (batch norm), but no conv/fc for PaddleSlim to quantize
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm2D(3)

        def forward(self, x):
            return paddle.flatten(nn.functional.adaptive_avg_pool2d(self.bn(x), 1), 1)

    spec = paddle.static.InputSpec([1, 3, SIZE, SIZE], "float32", name="x")
    model = NoWeights()
    model.eval()
    paddle.jit.save(model, str(tmp_path / "plain" / "inference"), input_spec=[spec])
    result = run_cli("quantize", str(tmp_path / "plain"))
    assert result.returncode == 2 and "has no layer to quantize" in result.stderr
    assert "Traceback" not in result.stderr and not (workspace / "quantize").exists()
