"""The artifact types every stage shares: a Paddle inference model on disk (``InferenceModel``),
how one is loaded from a folder, and what its manifest says about its weights and its deployment
description. The bottom of the stage stack: resolve → quantize → export → this module.

Nothing here imports paddle: a program is read as a ProgramDesc (edgekit.legalize).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Any, Optional, Union

from edgekit.description import ModelDescription, check_labels, default_description, find_config, read_config, \
    zoo_description
from edgekit.errors import InvalidInputError
from edgekit.workspace import Manifest, read_manifest, sha256_file

# What create_model accepts as weights: None/False, True (official), a path or a URL.
Pretrained = Union[None, bool, str, Path]

MODEL_FILE = "inference.pdmodel"
PARAMS_FILE = "inference.pdiparams"
ONNX_FILE = "model.onnx"


@dataclasses.dataclass(frozen=True)
class InferenceModel:
    """A Paddle inference model on disk (exported, quantized or given by the user), with its
    deployment description (from its manifest, a deploy config beside it, or the default)."""

    name: str
    directory: Path
    model_file: Path
    params_file: Path
    input_shape: tuple[int, ...]
    manifest: Optional[Manifest]
    reused: bool = False
    description: Optional[ModelDescription] = None
    num_classes: Optional[int] = None  # the output's class dimension when the program fixes it

    @property
    def onnx_file(self) -> Optional[Path]:
        path = self.directory / ONNX_FILE
        return path if path.is_file() else None

    @property
    def weights(self) -> Optional[str]:
        """Identity of the weights behind this model (``sha256:...`` or the export's random-init
        identity) as its manifest records it (quantize copies its source's); None for a folder
        without a manifest."""
        return manifest_weights(self.manifest)

    @property
    def random_weights(self) -> bool:
        return is_random_weights(self.weights)

    def described(self) -> ModelDescription:
        """The description; InvalidInputError when the model takes no (N, 3, H, W) image."""
        return self.description or default_description(self.input_shape)

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
            "description": self.description.summary() if self.description else None,
            "reused": self.reused,
        }


Source = Union[str, Path, InferenceModel]


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


def looks_like_path(text: str) -> bool:
    """True for what can only be a file or folder, never a model name."""
    return ("/" in text or os.sep in text or text.startswith((".", "~"))
            or text.endswith((".pdmodel", ".pdiparams", ".nb", ".onnx")))


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


def _var_dims(block: Any, name: str) -> Optional[tuple[int, ...]]:
    for var in block.vars:
        if var.name == name and var.type.HasField("lod_tensor"):
            return tuple(int(d) for d in var.type.lod_tensor.tensor.dims)
    return None


def _input_shape(program: Any, model_file: Path) -> tuple[int, ...]:
    """Shape of the variable the first feed op writes."""
    block = program.blocks[0]
    feeds = [op for op in block.ops if op.type == "feed"]
    if not feeds:
        raise InvalidInputError(f"{model_file} has no feed operator: not an inference program")
    name = next(a for slot in feeds[0].outputs for a in slot.arguments)
    dims = _var_dims(block, name)
    if dims is None:
        raise InvalidInputError(f"{model_file}: input variable {name!r} has no tensor shape")
    return dims


def output_classes(program: Any) -> Optional[int]:
    """The class count of the first fetched output when its shape is (N, classes) with a fixed
    class dimension; None when the program does not say."""
    block = program.blocks[0]
    fetches = [op for op in block.ops if op.type == "fetch"]
    if not fetches:
        return None
    name = next((a for slot in fetches[0].inputs for a in slot.arguments), None)
    dims = _var_dims(block, name) if name else None
    if not dims or len(dims) < 2 or dims[-1] <= 0:
        return None
    return int(dims[-1])


def load_inference_model(path: Path, *, reused: bool = False, description: Optional[ModelDescription] = None,
                         config: Optional[Path] = None) -> InferenceModel:
    """The inference model in a folder (or at a .pdmodel path); InvalidInputError if missing/corrupt.

    Its description is ``description`` when given, else the deploy config ``config`` when given,
    else its manifest's, else a PaddleClas deploy config beside it (edgekit.description.find_config),
    else the default for its input shape; labels that do not count the model's classes are refused."""
    from edgekit.legalize import read_program

    path = Path(path).expanduser()
    model_file, params_file = _model_files(path)
    program = read_program(model_file)
    if params_file.stat().st_size == 0:
        raise InvalidInputError(f"weights file {params_file} is empty")
    directory = model_file.parent
    manifest = read_manifest(directory)
    name = manifest.model if manifest else directory.name
    input_shape = _input_shape(program, model_file)
    if description is None and config is not None:
        description = read_config(config, input_shape)
    described = description or _stored_description(manifest, directory, input_shape)
    classes = output_classes(program)
    if described is not None:
        check_labels(described, classes, name)
    return InferenceModel(name=name, directory=directory, model_file=model_file, params_file=params_file,
                          input_shape=input_shape, manifest=manifest, reused=reused, description=described,
                          num_classes=classes)


def _stored_description(manifest: Optional[Manifest], directory: Path,
                        input_shape: tuple[int, ...]) -> Optional[ModelDescription]:
    """What the model's folder says about its deployment (see load_inference_model)."""
    if manifest is not None and manifest.description:
        return ModelDescription.from_dict(manifest.description)
    config = find_config(directory)
    if config is not None:
        return read_config(config, input_shape)
    if manifest is not None and _is_zoo_artifact(manifest) and len(input_shape) == 4:
        return zoo_description((input_shape[2], input_shape[3]))  # written before descriptions were stored
    try:
        return default_description(input_shape)
    except InvalidInputError:
        return None  # not an image model: stages that need preprocessing say so when they do


def _is_zoo_artifact(manifest: Manifest) -> bool:
    from edgekit.reference import find_reference, split_int8

    return find_reference(split_int8(manifest.model)[0]) is not None
