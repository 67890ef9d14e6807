"""Export: zoo model → Paddle inference model (``inference.pdmodel`` / ``inference.pdiparams``,
the file names PaddleClas's ``tools/export_model.py`` writes), optionally also ``model.onnx``.

The artifact lives in ``export/<MODEL>/<key>/``; the key covers the input size, the identity of
the weights and the paddle version, so the same request finds the same folder without
importing paddle. ONNX is an optional extra file of the same artifact: asking for it when the
folder lacks it rebuilds the folder (export is deterministic: random initial weights are seeded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from edgekit._paddle import import_paddle, run_paddle_inference
from edgekit.artifacts import (MODEL_FILE, ONNX_FILE, PARAMS_FILE, InferenceModel, Pretrained,  # noqa: F401
                               Source, is_random_weights, load_inference_model, looks_like_path, manifest_weights,
                               say_random_weights, tool_version)
from edgekit.description import zoo_description
from edgekit.errors import ToolError, UsageError
from edgekit.workspace import Workspace, building, sha256_file, write_manifest

STAGE = "export"
INPUT_NAME = "x"
# PaddleClas's paddle2onnx guide exports classification models with opset 10.
ONNX_OPSET = 10
# Bump when the export recipe changes, so old artifacts are not reused.
EXPORT_RECIPE = 3
# Random initial weights are drawn after this seed, so an export without weights is repeatable.
INIT_SEED = 0
# The weights identity of an export without pretrained weights (manifests say "weights": this).
RANDOM_WEIGHTS = f"random-init(seed={INIT_SEED})"
# Input sides an export accepts: at least 32 (the networks downsample 32x) and multiples of 16.
MIN_SIDE, SIDE_STEP = 32, 16

InputSize = Union[int, tuple[int, int]]  # a square side, or (height, width)


# ------------------------------------------------------------------------------------ export


def _weights_identity(name: str, pretrained: Pretrained, weights_cache: Path) -> str:
    """What identifies the weights in the artifact key: the sha256 of the file that will be loaded
    (a local file, or the download of a URL or of the official weights), or RANDOM_WEIGHTS.
    Pretrained weights are resolved (downloaded) here, so a failed download leaves no folder."""
    if pretrained is None or pretrained is False:
        return RANDOM_WEIGHTS
    from edgekit import zoo

    path = zoo.weights_path(name, pretrained, cache_dir=weights_cache)
    return f"sha256:{sha256_file(path)}" if path is not None else RANDOM_WEIGHTS


def _weights_source(pretrained: Pretrained) -> str:
    """What the user asked for, recorded beside the identity for people reading the manifest."""
    if pretrained is None or pretrained is False:
        return "random"
    return "official" if pretrained is True else str(pretrained)


def input_hw(input_size: InputSize) -> tuple[int, int]:
    """(height, width) of an export's input; UsageError for sides the networks cannot take."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else (int(v) for v in input_size)
    for side in (height, width):
        if side < MIN_SIDE or side % SIDE_STEP:
            shown = height if height == width else f"{height}x{width}"
            raise UsageError(f"--input-size {shown}: every side must be at least {MIN_SIDE} and a multiple of "
                             f"{SIDE_STEP} (the models downsample 32x)")
    return height, width


def _size_setting(input_size: InputSize) -> Union[int, list[int]]:
    """The key's input size: the side of a square (as before non-square inputs), else [height, width]."""
    height, width = input_hw(input_size)
    return height if height == width else [height, width]


def export_settings(name: str, input_size: InputSize, pretrained: Pretrained, workspace: Workspace) -> dict:
    return {
        "input_size": _size_setting(input_size),
        "weights": _weights_identity(name, pretrained, workspace.cache_dir / "weights"),
        "paddle": tool_version("paddlepaddle"),
        "recipe": EXPORT_RECIPE,
    }


def find_exported(name: str, workspace: Workspace, *, pretrained: Pretrained = None,
                  input_size: InputSize = 224) -> Optional[InferenceModel]:
    """The finished export of ``name`` with these settings, or None. Imports paddle only to find
    pretrained weights (random weights need nothing)."""
    found = workspace.find(STAGE, name, export_settings(name, input_size, pretrained, workspace))
    return load_inference_model(found, reused=True) if found is not None else None


def export_model(name: str, workspace: Workspace, *, pretrained: Pretrained = None, input_size: InputSize = 224,
                 onnx: bool = False, force: bool = False) -> InferenceModel:
    """The Paddle inference model of zoo model ``name`` (exported now, or reused).

    ``pretrained``: None (random weights, seeded), True (PaddleClas's published weights), a
    local ``.pdparams`` file or an http(s) URL, as ``edgekit.zoo.create_model`` takes them.
    """
    input_hw(input_size)
    settings = export_settings(name, input_size, pretrained, workspace)
    found = None if force else workspace.find(STAGE, name, settings)
    if found is not None:
        reused = load_inference_model(found, reused=True)
        if not onnx or reused.onnx_file is not None:
            if reused.random_weights:  # a fresh export says so when it builds the network
                say_random_weights(name)
            return reused

    final = workspace.artifact_dir(STAGE, name, settings)
    with building(final) as tmp:
        _save_zoo_model(name, tmp, pretrained=pretrained, input_size=input_size, cache=workspace.cache_dir)
        tools = {"paddlepaddle": tool_version("paddlepaddle")}
        if onnx:
            export_onnx(tmp / MODEL_FILE, tmp / PARAMS_FILE, tmp / ONNX_FILE, model_name=name)
            tools["paddle2onnx"] = tool_version("paddle2onnx")
            tools["onnxruntime"] = tool_version("onnxruntime")
        write_manifest(tmp, stage=STAGE, model=name,
                       settings={**settings, "weights_source": _weights_source(pretrained), "onnx": onnx,
                                 "onnx_opset": ONNX_OPSET},
                       inputs={"weights": settings["weights"]}, tools=tools,
                       description=zoo_description(input_hw(input_size)).to_dict())
    return load_inference_model(final)


def _save_zoo_model(name: str, folder: Path, *, pretrained: Pretrained, input_size: InputSize, cache: Path) -> None:
    from edgekit import zoo

    paddle = import_paddle()

    # Fresh unique names: otherwise variable and parameter names depend on what this process
    # built before, and the same export would give different bytes (and different cache keys
    # downstream) in a zoo-build worker than in a fresh process.
    with paddle.utils.unique_name.guard():
        paddle.seed(INIT_SEED)
        model = zoo.create_model(name, pretrained=pretrained, cache_dir=cache / "weights")
        model.eval()
        # Batch 1 is fixed on purpose: Paddle Lite's opt plans memory for the saved shape and the
        # seed's figures (SD855 latency, storage) are batch-1 measurements, as PaddleClas's are.
        spec = paddle.static.InputSpec([1, 3, *input_hw(input_size)], "float32", name=INPUT_NAME)
        paddle.jit.save(model, str(folder / "inference"), input_spec=[spec])
    for produced in (MODEL_FILE, PARAMS_FILE):
        if not (folder / produced).is_file():
            raise ToolError(f"paddle.jit.save did not write {produced} for {name}")
    _drop_callstacks(folder / MODEL_FILE)


def _drop_callstacks(model_file: Path) -> None:
    """Paddle stores the exporting process's Python call stack in every op. Dropping it makes the
    same export byte-identical whoever calls it (CLI, zoo-build worker, a test), so the program's
    sha256, part of the conversion key, names the model and not the caller; it also keeps local
    paths out of files that get shared."""
    from edgekit.legalize import clear_callstacks, read_program

    program = read_program(model_file)
    if clear_callstacks(program):
        model_file.write_bytes(program.SerializeToString())


# -------------------------------------------------------------------------------------- ONNX


def export_onnx(model_file: Path, params_file: Path, destination: Path, *, model_name: str) -> None:
    """paddle2onnx the program into ``destination`` and check it against Paddle Inference.

    The check feeds the same input to onnxruntime and Paddle Inference: the top-1 class must
    agree and the largest absolute difference must stay within 1e-4 of the largest |logit|.
    """
    import paddle2onnx

    try:
        onnx_bytes = paddle2onnx.export(str(model_file), str(params_file), None, opset_version=ONNX_OPSET,
                                        verbose=False, enable_onnx_checker=True)
    except Exception as e:  # paddle2onnx raises plain Exceptions for unsupported programs
        lines = str(e).strip().splitlines() or [type(e).__name__]
        raise ToolError(f"paddle2onnx failed on {model_name}: {lines[-1]}") from None
    if not onnx_bytes:
        raise ToolError(f"paddle2onnx produced no ONNX model for {model_name}")
    destination.write_bytes(onnx_bytes)
    check_onnx(destination, model_file, params_file, model_name=model_name)


def check_onnx(onnx_file: Path, model_file: Path, params_file: Path, *, model_name: str) -> dict:
    """Compare onnxruntime with Paddle Inference on one seeded input; ToolError when they differ."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in session.get_inputs()[0].shape]
    batch = np.random.RandomState(0).standard_normal(shape).astype(np.float32)
    onnx_out = session.run(None, {session.get_inputs()[0].name: batch})[0]
    paddle_out = run_paddle_inference(model_file, params_file, batch)
    comparison = compare_logits(paddle_out, onnx_out)
    if not comparison["ok"]:
        raise ToolError(f"ONNX check failed for {model_name}: onnxruntime differs from Paddle Inference "
                        f"(top-1 agree: {comparison['top1_agree']}, max |diff| {comparison['max_abs_diff']:.3g} "
                        f"> {comparison['tolerance']:.3g})")
    return comparison


def compare_logits(reference: np.ndarray, candidate: np.ndarray, rel_tol: float = 1e-4) -> dict:
    """Same top-1 per row and max |diff| ≤ rel_tol × max |reference|: the parity rule of edgekit."""
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    candidate = np.asarray(candidate, dtype=np.float64).reshape(len(candidate), -1)
    if reference.shape != candidate.shape:
        return {"ok": False, "top1_agree": False, "max_abs_diff": float("inf"), "tolerance": 0.0,
                "reason": f"shapes differ: {reference.shape} vs {candidate.shape}"}
    top1_agree = bool(np.array_equal(reference.argmax(axis=1), candidate.argmax(axis=1)))
    max_abs_diff = float(np.max(np.abs(reference - candidate)))
    tolerance = rel_tol * float(np.max(np.abs(reference)))
    finite = bool(np.all(np.isfinite(candidate)))
    return {"ok": top1_agree and finite and max_abs_diff <= tolerance, "top1_agree": top1_agree,
            "max_abs_diff": max_abs_diff, "tolerance": tolerance, "max_abs_logit": float(np.max(np.abs(reference)))}
