"""The zoo against PaddleClas itself (paddleclas==2.6.0, installed with --no-deps).

For every architecture: the same state-dict keys, in the same order, with the same shapes
(so PaddleClas's published .pdparams load unchanged), and, once PaddleClas's weights are loaded
through edgekit's own loader, the same logits.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")

from edgekit import zoo  # noqa: E402

PPCLS_MODULES = {
    "MobileNetV1": "ppcls.arch.backbone.legendary_models.mobilenet_v1",
    "MobileNetV2": "ppcls.arch.backbone.model_zoo.mobilenet_v2",
    "MobileNetV3": "ppcls.arch.backbone.legendary_models.mobilenet_v3",
    "ShuffleNetV2": "ppcls.arch.backbone.model_zoo.shufflenet_v2",
}

# Architectures are the zoo's names without the _ssld twins (same network, other weights).
ARCHITECTURES = [n for n in zoo.list_models() if not n.endswith("_ssld")]


def _ppcls_function_name(name: str) -> str:
    # PaddleClas's table says "ShuffleNetV2"; its code says ShuffleNetV2_x1_0
    return "ShuffleNetV2_x1_0" if name == "ShuffleNetV2" else name


@pytest.fixture(scope="module")
def ppcls() -> dict:
    """PaddleClas's backbone modules, imported by file without running paddleclas/__init__.py
    (which needs PaddleClas's whole dependency list: prettytable, faiss, ...)."""
    spec = importlib.util.find_spec("paddleclas")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("paddleclas is not installed (scripts/bootstrap.sh --test installs it)")
    root = Path(list(spec.submodule_search_locations)[0]) / "ppcls"
    saved = {k: v for k, v in sys.modules.items() if k == "ppcls" or k.startswith("ppcls.")}
    for package in ("", ".arch", ".arch.backbone", ".utils"):
        module = types.ModuleType("ppcls" + package)
        module.__path__ = [str(root.joinpath(*package.split(".")[1:]))]
        sys.modules["ppcls" + package] = module
    importlib.import_module("ppcls.utils.logger").init_logger(log_level=40)
    yield {family: importlib.import_module(path) for family, path in PPCLS_MODULES.items()}
    for key in [k for k in sys.modules if k == "ppcls" or k.startswith("ppcls.")]:
        del sys.modules[key]
    sys.modules.update(saved)


def build_paddleclas(ppcls: dict, name: str) -> "paddle.nn.Layer":
    module = ppcls[zoo.model_family(name)]
    # PaddleClas names some parameters explicitly (MobileNetV2, ShuffleNetV2), and paddle refuses
    # a second model with the same names in one process unless each gets a fresh name scope.
    with paddle.utils.unique_name.guard():
        model = getattr(module, _ppcls_function_name(name.replace("_ssld", "")))()
    model.eval()
    return model


def shapes(model: "paddle.nn.Layer") -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in model.state_dict().items()]


def test_there_are_27_architectures_and_31_names():
    assert len(ARCHITECTURES) == 27
    assert len(zoo.list_models()) == 31


@pytest.mark.parametrize("name", zoo.list_models())
def test_state_dict_keys_and_shapes_equal_paddleclas(ppcls, name):
    reference = build_paddleclas(ppcls, name)
    expected = shapes(reference)
    del reference
    gc.collect()
    assert shapes(zoo.create_model(name)) == expected


def _with_random_bn_statistics(model: "paddle.nn.Layer", rng: np.random.Generator) -> dict:
    """The model's state dict with non-trivial BN running statistics, so the test sees them used."""
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    for key, value in state.items():
        if key.endswith("._mean"):
            state[key] = rng.normal(0.0, 0.1, value.shape).astype(value.dtype)
        elif key.endswith("._variance"):
            state[key] = rng.uniform(0.5, 2.0, value.shape).astype(value.dtype)
    model.set_state_dict(state)
    return state


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_paddleclas_weights_give_paddleclas_logits(ppcls, name, tmp_path):
    rng = np.random.default_rng(0)
    reference = build_paddleclas(ppcls, name)
    weights = tmp_path / f"{name}_pretrained.pdparams"
    paddle.save(_with_random_bn_statistics(reference, rng), str(weights))
    image = paddle.to_tensor(rng.normal(0.0, 1.0, (2, 3, 224, 224)).astype("float32"))
    with paddle.no_grad():
        expected = reference(image).numpy()
        actual = zoo.create_model(name, pretrained=weights)(image).numpy()
    assert actual.shape == (2, 1000)
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * scale)


def _exported_op_types(model: "paddle.nn.Layer", folder: Path) -> list[str]:
    """Op types of the inference program paddle.jit.save writes (batch size left variable)."""
    spec = [paddle.static.InputSpec([None, 3, 224, 224], "float32", name="x")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), str(folder / "inference"))
    paddle.enable_static()
    try:
        program, _, _ = paddle.static.load_inference_model(str(folder / "inference"),
                                                           paddle.static.Executor(paddle.CPUPlace()))
    finally:
        paddle.disable_static()
    return [op.type for op in program.global_block().ops]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MobileNetV1_x0_25", "MobileNetV2_x0_25", "MobileNetV3_small_x0_35",
                                  "MobileNetV3_large_x0_35", "ShuffleNetV2_x0_25", "ShuffleNetV2_swish"])
def test_exported_program_has_paddleclas_ops_in_paddleclas_order(ppcls, name, tmp_path):
    # the convert stage legalizes exactly the ops PaddleClas exports (relu6, hard_swish, swish,
    # flatten_contiguous_range, and ShuffleNetV2's shape/slice/fill_constant → reshape2)
    (tmp_path / "theirs").mkdir()
    (tmp_path / "ours").mkdir()
    expected = _exported_op_types(build_paddleclas(ppcls, name), tmp_path / "theirs")
    assert _exported_op_types(zoo.create_model(name), tmp_path / "ours") == expected
