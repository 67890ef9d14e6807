"""convert: legalization for Paddle Lite 2.13, opt in a child process, reuse, errors, int8 on x86.

Small paddle.nn models made here carry every operator the fixes are about (relu6, swish,
hard_swish, hard_sigmoid, flatten_contiguous_range, matmul_v2); opt and the Paddle Lite runtime
are the real ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest
from paddle import nn

from edgekit import legalize
from edgekit.convert import convert_model, find_converted, resolve_target, run_opt
from edgekit.errors import ConfigError, ConversionError, InvalidInputError, RuntimeCrashError, UsageError
from edgekit.export import compare_logits, load_inference_model, run_paddle_inference
from edgekit.lite_runtime import inspect_nb, run_nb
from edgekit.workspace import MANIFEST, Workspace

INPUT = (1, 3, 32, 32)


def _save(layer, folder: Path, shape=INPUT) -> Path:
    layer.eval()
    spec = paddle.static.InputSpec(list(shape), "float32", name="x")
    paddle.jit.save(layer, str(folder / "inference"), input_spec=[spec])
    return folder


class Tiny(nn.Layer):
    """conv-bn-relu6, depthwise-swish, hardswish × hardsigmoid, pool, flatten, fc."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2D(3, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2D(16)
        self.dw = nn.Conv2D(16, 16, 3, padding=1, groups=16)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = nn.functional.relu6(self.bn(self.conv(x)))
        x = nn.functional.swish(self.dw(x))
        x = nn.functional.hardswish(x) * nn.functional.hardsigmoid(x)
        return self.fc(paddle.flatten(self.pool(x), 1))


class FlattenFc(nn.Layer):
    """No relu6/swish: raw opt gets past the attribute checks and reaches the flatten segfault."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(paddle.flatten(nn.functional.relu(self.conv(x)), 1))


class Lgamma(nn.Layer):
    """lgamma has no Paddle Lite kernel on any target."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(paddle.lgamma(paddle.abs(x) + 1.0))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    paddle.seed(3)
    model = Tiny()
    # Logits of order 1, so the relative parity check below means something.
    model.fc.weight.set_value(model.fc.weight.numpy() * 40.0)
    return _save(model, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def flatten_only_dir(tmp_path_factory) -> Path:
    return _save(FlattenFc(), tmp_path_factory.mktemp("flatten_only"))


@pytest.fixture(scope="session")
def unsupported_dir(tmp_path_factory) -> Path:
    return _save(Lgamma(), tmp_path_factory.mktemp("lgamma"), shape=(1, 8))


def _leftovers(root: Path) -> list[Path]:
    """Temporary build folders, and artifact folders without a manifest, under a workspace."""
    partial = [p for p in root.rglob("*") if p.name.endswith(".partial") or ".partial" in p.name]
    stage_dirs = [root / s for s in ("export", "quantize", "convert") if (root / s).is_dir()]
    unfinished = [key for stage in stage_dirs for model in stage.iterdir() for key in model.iterdir()
                  if key.is_dir() and not (key / MANIFEST).is_file()]
    empty_models = [model for stage in stage_dirs for model in stage.iterdir() if not any(model.iterdir())]
    return partial + unfinished + empty_models


# ------------------------------------------------------------------------------- legalize


def test_legalize_adds_what_opt_needs(tiny_dir: Path, tmp_path: Path):
    legal = tmp_path / "legal.pdmodel"
    fixes = legalize.legalize_model_file(tiny_dir / "inference.pdmodel", legal)
    changes = {(f.op_type, f.change) for f in fixes}
    assert ("relu6", "added attribute threshold=6.0") in changes
    assert ("swish", "added attribute beta=1.0") in changes
    assert any(op == "flatten_contiguous_range" and "XShape" in change for op, change in changes)

    program = legalize.read_program(legal)
    block = program.blocks[0]
    flatten = next(op for op in block.ops if op.type == "flatten_contiguous_range")
    xshape = next(slot.arguments[0] for slot in flatten.outputs if slot.parameter == "XShape")
    source = next(slot.arguments[0] for slot in flatten.inputs if slot.parameter == "X")
    dims = {v.name: list(v.type.lod_tensor.tensor.dims) for v in block.vars if v.type.HasField("lod_tensor")}
    assert dims[xshape] == [0] + dims[source]  # Paddle's XShape convention
    relu6 = next(op for op in block.ops if op.type == "relu6")
    assert [a.f for a in relu6.attrs if a.name == "threshold"] == [6.0]

    # A legalized program needs nothing more, and Paddle still loads and runs it unchanged.
    assert legalize.legalize_program(legalize.read_program(legal)) == []
    (tmp_path / "legal.pdiparams").write_bytes((tiny_dir / "inference.pdiparams").read_bytes())
    batch = np.random.RandomState(0).standard_normal((2, *INPUT[1:])).astype(np.float32)
    np.testing.assert_allclose(run_paddle_inference(legal, tmp_path / "legal.pdiparams", batch),
                               run_paddle_inference(tiny_dir / "inference.pdmodel", tiny_dir / "inference.pdiparams",
                                                    batch), rtol=1e-5, atol=1e-6)


def _without_attributes(source: Path, destination: Path, op_types: set, names: set) -> Path:
    """A copy of an inference-model folder whose ops of ``op_types`` lack the attributes ``names``
    (as programs saved by other tools than Paddle 2.6 may)."""
    program = legalize.read_program(source / "inference.pdmodel")
    for op in program.blocks[0].ops:
        if op.type in op_types:
            kept = [a for a in op.attrs if a.name not in names]
            del op.attrs[:]
            op.attrs.extend(kept)
    destination.mkdir()
    (destination / "inference.pdmodel").write_bytes(program.SerializeToString())
    (destination / "inference.pdiparams").write_bytes((source / "inference.pdiparams").read_bytes())
    return destination


def _paddle_defaults(op_type: str, inputs: tuple, outputs: tuple) -> dict:
    """The attribute values Paddle itself gives ``op_type`` when a program sets none."""
    paddle.enable_static()
    try:
        block = paddle.static.Program().global_block()
        variables = {name: block.create_var(name=name, shape=[1, 4], dtype="float32") for name in (*inputs, *outputs)}
        op = block.append_op(type=op_type, inputs={name: variables[name] for name in inputs},
                             outputs={name: variables[name] for name in outputs})
        return {name: op.attr(name) for name in op.attr_names}
    finally:
        paddle.disable_static()


def _attributes(model_file: Path, op_type: str) -> list[dict]:
    program = legalize.read_program(model_file)
    return [{a.name: (a.f if a.type == legalize.framework_pb2().FLOAT else a.i) for a in op.attrs}
            for op in program.blocks[0].ops if op.type == op_type]


def _check_filled(legal_model: Path, op_type: str, names: set, defaults: dict) -> None:
    for attributes in _attributes(legal_model, op_type):
        for name in names:
            assert attributes[name] == pytest.approx(defaults[name], rel=1e-6), (op_type, name)


def test_hard_activation_attributes_are_filled_with_paddles_defaults(tiny_dir: Path, tmp_path: Path):
    names = {"hard_swish": {"threshold", "scale", "offset"}, "hard_sigmoid": {"slope", "offset"}}
    stripped = _without_attributes(tiny_dir, tmp_path / "stripped", set(names), set.union(*names.values()))
    legal = tmp_path / "legal.pdmodel"
    fixes = legalize.legalize_model_file(stripped / "inference.pdmodel", legal)
    assert {f.kind for f in fixes if f.op_type in names} == {f"added attribute {n}={v}" for n, v in (
        ("threshold", 6.0), ("scale", 6.0), ("offset", 3.0), ("slope", 0.2), ("offset", 0.5))}
    for op_type, wanted in names.items():
        _check_filled(legal, op_type, wanted, _paddle_defaults(op_type, ("X",), ("Out",)))
    # opt aborts on the stripped program (less the fixes in question) and converts the legalized one
    partial = legalize.read_program(stripped / "inference.pdmodel")
    for op in partial.blocks[0].ops:
        if op.type not in names:
            legalize.FIXES.get(op.type, lambda *_: [])(op, partial.blocks[0])
    (tmp_path / "partial.pdmodel").write_bytes(partial.SerializeToString())
    with pytest.raises(ConversionError, match="SIGABRT"):
        run_opt(tmp_path / "partial.pdmodel", stripped / "inference.pdiparams", tmp_path / "raw", "arm")
    assert convert_model(stripped, Workspace.open(tmp_path / "ws"), target="arm").bytes > 0


def test_read_program_rejects_files_that_are_not_programs(tmp_path: Path):
    for content in (b"", b"\x00\x01garbage\xff" * 50):
        bad = tmp_path / "bad.pdmodel"
        bad.write_bytes(content)
        with pytest.raises(InvalidInputError, match="bad.pdmodel"):
            legalize.read_program(bad)
    with pytest.raises(InvalidInputError, match="missing.pdmodel"):
        legalize.read_program(tmp_path / "missing.pdmodel")


# ------------------------------------------------------------------------------ raw opt


def test_raw_opt_abort_becomes_conversion_error_quoting_opt(tiny_dir: Path, tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        run_opt(tiny_dir / "inference.pdmodel", tiny_dir / "inference.pdiparams", tmp_path / "raw", "arm",
                model_name="tiny-unlegalized")
    message = str(caught.value)
    assert "tiny-unlegalized" in message and "SIGABRT" in message
    assert "threshold" in message and "relu6" in message  # opt's own words
    assert "\n" not in message
    assert not (tmp_path / "raw.nb").exists()


def test_raw_opt_segfault_on_flatten_without_xshape_for_x86(flatten_only_dir: Path, tmp_path: Path):
    with pytest.raises(ConversionError, match="flat-model.*killed by SIGSEGV"):
        run_opt(flatten_only_dir / "inference.pdmodel", flatten_only_dir / "inference.pdiparams",
                tmp_path / "raw", "x86", model_name="flat-model")
    # The same program legalized converts.
    lite = convert_model(flatten_only_dir, Workspace.open(tmp_path / "ws"), target="x86")
    assert lite.bytes > 4 * 32 * 32 * 10 * 4
    assert lite.to_dict()["legalized"] == {"flatten_contiguous_range: added output XShape": 1}


def test_unsupported_operator_is_named(unsupported_dir: Path, tmp_path: Path):
    workspace = Workspace.open(tmp_path / "ws")
    with pytest.raises(ConversionError) as caught:
        convert_model(unsupported_dir, workspace, target="arm")
    message = str(caught.value)
    assert "lgamma" in message and "no kernel for arm" in message
    assert _leftovers(workspace.root) == []


# ------------------------------------------------------------------------------- convert


def test_convert_every_target_reuse_and_force(tiny_dir: Path, tmp_path: Path):
    workspace = Workspace.open(tmp_path / "ws")
    arm = convert_model(tiny_dir, workspace, target="arm")
    assert not arm.reused and arm.nb_path.is_file() and arm.bytes == arm.nb_path.stat().st_size
    assert arm.to_dict()["valid_targets"] == "arm" and arm.source_model == str(tiny_dir)
    assert inspect_nb(arm.nb_path).targets >= {"arm"}
    x86 = convert_model(tiny_dir, workspace, target="x86")
    assert inspect_nb(x86.nb_path).runs_on_x86
    opencl = convert_model(tiny_dir, workspace, target="opencl,arm")
    assert opencl.target == "opencl" and "opencl" in inspect_nb(opencl.nb_path).targets
    fp16 = convert_model(tiny_dir, workspace, target="arm", fp16=True)
    assert fp16.fp16 and fp16.nb_path.parent != arm.nb_path.parent

    again = convert_model(tiny_dir, workspace, target="arm")
    assert again.reused and again.nb_path == arm.nb_path and again.sha256 == arm.sha256
    assert find_converted(load_inference_model(tiny_dir), workspace, target="arm").reused
    forced = convert_model(tiny_dir, workspace, target="arm", force=True)
    assert not forced.reused and forced.nb_path == arm.nb_path and forced.bytes == arm.bytes
    assert _leftovers(workspace.root) == []


def test_x86_nb_matches_paddle_inference(tiny_dir: Path, tmp_path: Path):
    lite = convert_model(tiny_dir, Workspace.open(tmp_path / "ws"), target="x86")
    batch = np.random.RandomState(1).standard_normal((4, *INPUT[1:])).astype(np.float32)
    expected = run_paddle_inference(tiny_dir / "inference.pdmodel", tiny_dir / "inference.pdiparams", batch)
    assert np.abs(expected).max() > 0.5  # logits of order 1: the relative check is meaningful
    comparison = compare_logits(expected, run_nb(lite.nb_path, batch))
    assert comparison["ok"], comparison


def test_unknown_target_and_fp16_on_x86_are_refused(tiny_dir: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match=r"unknown target 'mips'.*arm.*x86.*opencl"):
        resolve_target("mips")
    with pytest.raises(UsageError, match="fp16"):
        convert_model(tiny_dir, Workspace.open(tmp_path / "ws"), target="x86", fp16=True)


def test_run_nb_crash_is_runtime_crash_error(tiny_dir: Path, tmp_path: Path):
    not_nb = tmp_path / "model.nb"
    not_nb.write_bytes((tiny_dir / "inference.pdmodel").read_bytes())
    with pytest.raises(RuntimeCrashError, match="model.nb.*SIGABRT"):
        run_nb(not_nb, np.zeros((1, *INPUT[1:]), np.float32))


# ------------------------------------------------------------------------------------- CLI


def test_cli_convert_json_then_reused(run_cli, tiny_dir: Path):
    first = run_cli("convert", str(tiny_dir), "--target", "x86", "--json", check=True).json()
    for key in ("nb_path", "bytes", "target", "source_model", "sha256", "reused"):
        assert key in first
    assert first["target"] == "x86" and first["reused"] is False and Path(first["nb_path"]).is_file()
    again = run_cli("convert", str(tiny_dir), "--target", "x86", check=True)
    assert again.stdout.startswith("reused tiny") and first["nb_path"] in again.stdout


def test_cli_bad_inputs_are_one_line_errors_and_leave_nothing(run_cli, workspace: Path, tiny_dir: Path,
                                                               unsupported_dir: Path, tmp_path: Path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "inference.pdmodel").write_bytes(b"this is not a protobuf program" * 10)
    (corrupt / "inference.pdiparams").write_bytes(b"\x00" * 64)
    no_params = tmp_path / "no_params"
    no_params.mkdir()
    (no_params / "inference.pdmodel").write_bytes((tiny_dir / "inference.pdmodel").read_bytes())
    cases = [
        (("convert", str(tmp_path / "missing")), 2, "missing does not exist"),
        (("convert", str(corrupt)), 2, "corrupt/inference.pdmodel is not a Paddle program"),
        (("convert", str(no_params)), 2, "no weights file inference.pdiparams"),
        (("convert", str(tiny_dir), "--target", "mips"), 2, "unknown target 'mips'"),
        (("convert", str(tiny_dir), "--target", "x86", "--fp16"), 2, "fp16"),
        (("convert", str(unsupported_dir)), 4, "lgamma"),
    ]
    for args, code, words in cases:
        result = run_cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.startswith("edgekit: error:") and words in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert _leftovers(workspace) == []


def test_options_are_checked_before_any_model_work(run_cli, workspace: Path, tiny_dir: Path):
    image = str(Path(__file__).resolve().parent.parent / "edgekit" / "data" / "images" / "coffee.jpg")
    cases = [
        (("convert", "MobileNetV1", "--target", "mips"), "unknown target 'mips'"),
        (("convert", "MobileNetV1", "--target", "x86", "--fp16"), "fp16"),
        (("predict", image, "--model", "MobileNetV1", "--threads", "0"), "--threads must be at least 1"),
        (("convert", str(tiny_dir), "--pretrained", "official"), "--pretrained applies to zoo model names"),
    ]
    for args, words in cases:
        result = run_cli(*args)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(workspace.iterdir()) == []  # nothing was exported or converted first


def test_an_artifact_missing_its_nb_is_converted_again(tiny_dir: Path, tmp_path: Path):
    workspace = Workspace.open(tmp_path / "ws")
    first = convert_model(tiny_dir, workspace, target="x86")
    moved = tmp_path / "moved.nb"
    first.nb_path.rename(moved)
    again = convert_model(tiny_dir, workspace, target="x86")
    assert not again.reused and again.nb_path == first.nb_path and again.nb_path.is_file()
    assert again.bytes == first.bytes
    again.nb_path.write_bytes(moved.read_bytes()[:100])  # truncated: not the artifact the manifest names
    assert find_converted(load_inference_model(tiny_dir), workspace, target="x86") is None
    assert not convert_model(tiny_dir, workspace, target="x86").reused


# ----------------------------------------------------------------------------- int8 on x86


def _quantize_tiny(source: Path, destination: Path, op_types: list[str]) -> Path:
    """PaddleSlim post-training quantization of the tiny model (a few random calibration batches)."""
    from paddleslim.quant import quant_post_static

    class Calibration(paddle.io.Dataset):
        def __init__(self) -> None:
            rs = np.random.RandomState(0)
            self.samples = [rs.standard_normal(INPUT[1:]).astype(np.float32) for _ in range(4)]

        def __len__(self) -> int:
            return len(self.samples)

        def __getitem__(self, index: int):
            return self.samples[index]

    paddle.enable_static()
    try:
        feed = paddle.static.data(name="x", shape=list(INPUT), dtype="float32")
        loader = paddle.io.DataLoader(Calibration(), feed_list=[feed], batch_size=1, return_list=False)
        quant_post_static(executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=str(source),
                          quantize_model_path=str(destination), model_filename="inference.pdmodel",
                          params_filename="inference.pdiparams", save_model_filename="inference.pdmodel",
                          save_params_filename="inference.pdiparams", data_loader=loader, batch_nums=4,
                          algo="abs_max", quantizable_op_type=op_types, onnx_format=True)
    finally:
        paddle.disable_static()
    return destination


@pytest.mark.slow
def test_quant_linear_attributes_are_filled_with_paddles_defaults(tiny_dir: Path, tmp_path: Path):
    quantized = _quantize_tiny(tiny_dir, tmp_path / "tiny_int8", ["conv2d", "depthwise_conv2d"])
    op_types, names = {"quantize_linear", "dequantize_linear"}, {"bit_length", "quant_axis"}
    stripped = _without_attributes(quantized, tmp_path / "stripped", op_types, names)
    with pytest.raises(ConversionError, match="SIGABRT"):
        run_opt(stripped / "inference.pdmodel", stripped / "inference.pdiparams", tmp_path / "raw", "arm")
    legal = tmp_path / "legal.pdmodel"
    fixes = legalize.legalize_model_file(stripped / "inference.pdmodel", legal)
    assert {f.kind for f in fixes if f.op_type in op_types} == {"added attribute bit_length=8",
                                                                 "added attribute quant_axis=0"}
    for op_type in op_types:
        _check_filled(legal, op_type, names, _paddle_defaults(op_type, ("X", "Scale", "ZeroPoint"), ("Y",)))
    lite = convert_model(stripped, Workspace.open(tmp_path / "ws"), target="arm")
    assert lite.quantized and inspect_nb(lite.nb_path).int8


@pytest.mark.slow
def test_int8_programs_convert_and_host_results_are_flagged(run_cli, tiny_dir: Path, tmp_path: Path):
    full = _quantize_tiny(tiny_dir, tmp_path / "tiny_int8", ["conv2d", "depthwise_conv2d", "matmul_v2"])
    conv_only = _quantize_tiny(tiny_dir, tmp_path / "tiny_conv_int8", ["conv2d"])
    workspace = Workspace.open(tmp_path / "ws")

    arm = convert_model(full, workspace, target="arm")
    assert arm.quantized and inspect_nb(arm.nb_path).int8
    assert arm.to_dict()["quantized"] is True
    image = str(Path(__file__).resolve().parent.parent / "edgekit" / "data" / "images" / "coffee.jpg")

    # Every op quantized: Paddle Lite 2.13rc0's x86 runtime segfaults (int8 depthwise) or gives
    # garbage (int8 fc). Either way the caller survives and is told plainly.
    result = run_cli("predict", image, "--model", str(full), "--json")
    if result.returncode == 0:
        assert result.json()["trusted"] is False
    else:
        assert result.returncode == 4 and "x86 runtime failed" in result.stderr and "int8" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    # Only the regular convolutions quantized: it runs, and the result is flagged as untrusted.
    data = run_cli("predict", image, "--model", str(conv_only), "--topk", "3", "--json", check=True).json()
    assert data["quantized"] is True and data["trusted"] is False and "int8" in data["warning"]
    assert len(data["predictions"][0]["top"]) == 3
    text = run_cli("predict", image, "--model", str(conv_only), "--topk", "3", check=True).stdout
    assert "WARNING" in text and "cannot be trusted" in text
