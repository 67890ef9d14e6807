"""Export: zoo model → Paddle inference model (``inference.pdmodel`` / ``inference.pdiparams``,
the file names PaddleClas's ``tools/export_model.py`` writes), optionally also ``model.onnx``.

The artifact lives in ``export/<MODEL>/<key>/``; the key covers the input size, the identity of
the weights and the paddle version, so the same request finds the same folder without
importing paddle. ONNX is an optional extra file of the same artifact: asking for it when the
folder lacks it rebuilds the folder (export is deterministic: random initial weights are seeded).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Optional, Union

import numpy as np

from edgekit._paddle import import_paddle, run_paddle_inference
from edgekit.errors import InvalidInputError, ToolError, UsageError
from edgekit.reference import split_int8
from edgekit.workspace import Manifest, Workspace, building, read_manifest, sha256_file, write_manifest

# What create_model accepts as weights: None/False, True (official), a path or a URL.
Pretrained = Union[None, bool, str, Path]

STAGE = "export"
MODEL_FILE = "inference.pdmodel"
PARAMS_FILE = "inference.pdiparams"
ONNX_FILE = "model.onnx"
INPUT_NAME = "x"
# PaddleClas's paddle2onnx guide exports classification models with opset 10.
ONNX_OPSET = 10
# Bump when the export recipe changes, so old artifacts are not reused.
EXPORT_RECIPE = 3
# Random initial weights are drawn after this seed, so an export without weights is repeatable.
INIT_SEED = 0
# The weights identity of an export without pretrained weights (manifests say "weights": this).
RANDOM_WEIGHTS = f"random-init(seed={INIT_SEED})"


@dataclasses.dataclass(frozen=True)
class InferenceModel:
    """A Paddle inference model on disk (exported, quantized or given by the user)."""

    name: str
    directory: Path
    model_file: Path
    params_file: Path
    input_shape: tuple[int, ...]
    manifest: Optional[Manifest]
    reused: bool = False

    @property
    def onnx_file(self) -> Optional[Path]:
        path = self.directory / ONNX_FILE
        return path if path.is_file() else None

    @property
    def weights(self) -> Optional[str]:
        """Identity of the weights behind this model (``sha256:...`` or RANDOM_WEIGHTS) as its
        manifest records it (quantize copies its source's); None for a folder without a manifest."""
        return manifest_weights(self.manifest)

    @property
    def random_weights(self) -> bool:
        return is_random_weights(self.weights)

    def identity(self) -> dict:
        """sha256 of the program and the weights (from the manifest when there is one)."""
        files = self.manifest.files if self.manifest else {}
        return {
            "model_sha256": _file_sha(files, self.directory, self.model_file),
            "params_sha256": _file_sha(files, self.directory, self.params_file),
        }

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "directory": str(self.directory),
            "model_file": str(self.model_file),
            "params_file": str(self.params_file),
            "onnx_file": str(self.onnx_file) if self.onnx_file else None,
            "input_shape": list(self.input_shape),
            "weights": self.weights,
            "reused": self.reused,
        }


def manifest_weights(manifest: Optional[Manifest]) -> Optional[str]:
    """The weights identity a manifest records (export: settings and inputs; quantize and convert:
    inputs, copied from their source), or None."""
    if manifest is None:
        return None
    return manifest.inputs.get("weights") or manifest.settings.get("weights")


def is_random_weights(weights: Optional[str]) -> bool:
    return str(weights or "").startswith("random-init")


def say_random_weights(name: str) -> None:
    """The one stderr line that tells a user ``name`` carries random weights."""
    from edgekit.zoo import RANDOM_WEIGHTS_NOTE

    print(f"edgekit: {name}: {RANDOM_WEIGHTS_NOTE}", file=sys.stderr)


def _file_sha(described: dict, folder: Path, path: Path) -> str:
    try:
        return described[str(path.relative_to(folder))]["sha256"]
    except (KeyError, ValueError, TypeError):
        return sha256_file(path)


def tool_version(distribution: str) -> str:
    """Installed version of a Python distribution ("missing" when absent); imports nothing."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


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


def export_settings(name: str, input_size: int, pretrained: Pretrained, workspace: Workspace) -> dict:
    return {
        "input_size": input_size,
        "weights": _weights_identity(name, pretrained, workspace.cache_dir / "weights"),
        "paddle": tool_version("paddlepaddle"),
        "recipe": EXPORT_RECIPE,
    }


def find_exported(name: str, workspace: Workspace, *, pretrained: Pretrained = None,
                  input_size: int = 224) -> Optional[InferenceModel]:
    """The finished export of ``name`` with these settings, or None. Imports paddle only to find
    pretrained weights (random weights need nothing)."""
    found = workspace.find(STAGE, name, export_settings(name, input_size, pretrained, workspace))
    return load_inference_model(found, reused=True) if found is not None else None


def export_model(name: str, workspace: Workspace, *, pretrained: Pretrained = None, input_size: int = 224,
                 onnx: bool = False, force: bool = False) -> InferenceModel:
    """The Paddle inference model of zoo model ``name`` (exported now, or reused).

    ``pretrained``: None (random weights, seeded), True (PaddleClas's published weights), a
    local ``.pdparams`` file or an http(s) URL, as ``edgekit.zoo.create_model`` takes them.
    """
    if input_size < 32 or input_size % 32:
        raise UsageError(f"--input-size {input_size} must be a positive multiple of 32 (the models downsample 32x)")
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
                       inputs={"weights": settings["weights"]}, tools=tools)
    return load_inference_model(final)


def _save_zoo_model(name: str, folder: Path, *, pretrained: Pretrained, input_size: int, cache: Path) -> None:
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
        spec = paddle.static.InputSpec([1, 3, input_size, input_size], "float32", name=INPUT_NAME)
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


# ----------------------------------------------------------------------------------- loading


def _model_files(path: Path) -> tuple[Path, Path]:
    """(program, weights) of a folder or a .pdmodel path; InvalidInputError when absent."""
    if path.is_dir():
        candidates = [path / MODEL_FILE] if (path / MODEL_FILE).is_file() else sorted(path.glob("*.pdmodel"))
        if len(candidates) != 1:
            found = ", ".join(p.name for p in candidates) or "none"
            raise InvalidInputError(f"{path} must hold exactly one .pdmodel (found: {found})")
        model_file = candidates[0]
    elif path.suffix == ".pdmodel" and path.is_file():
        model_file = path
    elif path.exists():
        raise InvalidInputError(f"{path} is not a Paddle inference model (.pdmodel file or its folder)")
    else:
        raise InvalidInputError(f"model file or folder {path} does not exist")
    params_file = model_file.with_suffix(".pdiparams")
    if not params_file.is_file():
        raise InvalidInputError(f"{model_file} has no weights file {params_file.name} beside it")
    return model_file, params_file


def _input_shape(program, model_file: Path) -> tuple[int, ...]:
    """Shape of the variable the first feed op writes."""
    block = program.blocks[0]
    feeds = [op for op in block.ops if op.type == "feed"]
    if not feeds:
        raise InvalidInputError(f"{model_file} has no feed operator: not an inference program")
    name = next(a for slot in feeds[0].outputs for a in slot.arguments)
    for var in block.vars:
        if var.name == name and var.type.HasField("lod_tensor"):
            return tuple(int(d) for d in var.type.lod_tensor.tensor.dims)
    raise InvalidInputError(f"{model_file}: input variable {name!r} has no tensor shape")


def load_inference_model(path: Path, *, reused: bool = False) -> InferenceModel:
    """The inference model in a folder (or at a .pdmodel path); InvalidInputError if missing/corrupt."""
    from edgekit.legalize import read_program

    path = Path(path).expanduser()
    model_file, params_file = _model_files(path)
    program = read_program(model_file)
    if params_file.stat().st_size == 0:
        raise InvalidInputError(f"weights file {params_file} is empty")
    directory = model_file.parent
    manifest = read_manifest(directory)
    name = manifest.model if manifest else directory.name
    return InferenceModel(name=name, directory=directory, model_file=model_file, params_file=params_file,
                          input_shape=_input_shape(program, model_file), manifest=manifest, reused=reused)


# ---------------------------------------------------------------------------------- sources


Source = Union[str, Path, InferenceModel]


def looks_like_path(text: str) -> bool:
    """True for what can only be a file or folder, never a model name."""
    return ("/" in text or os.sep in text or text.startswith((".", "~"))
            or text.endswith((".pdmodel", ".pdiparams", ".nb")))


def resolve_inference_model(source: Source, workspace: Workspace, *, pretrained: Pretrained = None,
                            force: bool = False) -> InferenceModel:
    """What a command's MODEL argument names, as an inference model: an InferenceModel as it is;
    an existing folder or ``.pdmodel``; ``<zoo name>_int8`` → quantized with the default preset;
    a zoo name → exported. Artifacts are reused unless ``force``; ``pretrained`` (zoo names only)
    as ``export_model`` takes it."""
    if isinstance(source, InferenceModel):
        _no_pretrained_for(source.name, pretrained)
        return source
    text = os.fspath(source)
    path = Path(text).expanduser()
    if isinstance(source, Path) or path.exists() or looks_like_path(text):
        _no_pretrained_for(text, pretrained)
        return load_inference_model(path)
    base, is_int8 = split_int8(text)
    if is_int8:
        from edgekit.quantize import quantize_model  # PaddleSlim: only for int8 names

        return quantize_model(base, workspace, pretrained=pretrained, force=force).model
    return export_model(text, workspace, pretrained=pretrained, force=force)


def _no_pretrained_for(what: str, pretrained: Pretrained) -> None:
    if pretrained is not None and pretrained is not False:
        raise UsageError(f"--pretrained applies to zoo model names, not to the inference model {what}")
