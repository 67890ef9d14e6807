"""The one resolver of MODEL arguments: what a command's MODEL names, as an artifact with its
deployment description.

=====================  =========================================================================
MODEL                  becomes
=====================  =========================================================================
zoo name               its export (edgekit.export), with the zoo's description; at
                       ``--input-size`` when given (else 224x224)
``NAME_int8``          NAME (exported likewise) quantized with the default preset (edgekit.quantize)
folder / .pdmodel      the inference model there; its description from its manifest, a deploy
                       config beside it, or the default (edgekit.artifacts.load_inference_model)
``.onnx`` file         converted by X2Paddle and checked (edgekit.onnx_import)
``.nb`` file           used as it is (a convert folder: its model.nb); description from its manifest
=====================  =========================================================================

Command-line description flags (``DescriptionOverrides``) apply on top of each. The stages form a
one-way stack below this module: resolve → quantize → export → artifacts; convert, predict,
bench and the app builder sit above it and call it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional, Union

from edgekit.artifacts import InferenceModel, Pretrained, Source, load_inference_model, looks_like_path
from edgekit.description import DEFAULT_SOURCE, DescriptionOverrides, ModelDescription, check_labels, \
    default_description, find_config, read_config, zoo_description
from edgekit.errors import InvalidInputError, UnknownModelError, UsageError
from edgekit.reference import split_int8
from edgekit.workspace import Workspace, read_manifest

NB_FILE = "model.nb"  # what convert writes (edgekit.convert.NB_FILE)
# A .nb says nothing of its input: without a manifest beside it, it is taken as a 224x224 model.
BARE_NB_SHAPE = (1, 3, 224, 224)
ZOO_SIZE = (224, 224)  # (height, width) a zoo name is exported at without --input-size
BARE_NB_SOURCE = f"{DEFAULT_SOURCE}; a .nb without manifest is taken as 1x3x224x224"


@dataclasses.dataclass(frozen=True)
class ResolvedModel:
    """A MODEL argument resolved: an inference model, or a ready ``.nb`` (then ``model`` is None)."""

    name: str
    kind: str  # zoo | int8 | folder | onnx | nb | artifact
    description: Optional[ModelDescription]
    model: Optional[InferenceModel] = None
    nb_path: Optional[Path] = None

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind,
                "description": self.description.summary() if self.description else None,
                "model": self.model.to_dict() if self.model else None,
                "nb_path": str(self.nb_path) if self.nb_path else None}


def resolve_model(source: Union[Source, Path], workspace: Workspace, *, pretrained: Pretrained = None,
                  overrides: Optional[DescriptionOverrides] = None, force: bool = False) -> ResolvedModel:
    """What ``source`` names (see the module's table), with ``overrides`` applied to its description.
    Artifacts are reused unless ``force``; ``pretrained`` (zoo names only) as export_model takes it."""
    overrides = overrides or DescriptionOverrides()
    if isinstance(source, InferenceModel):
        _no_pretrained_for(source.name, pretrained)
        return _inference(describe(source, overrides), "artifact")
    text = os.fspath(source)
    path = Path(text).expanduser()
    if nb_file(path) is not None:
        _no_pretrained_for(text, pretrained)
        return _nb(nb_file(path), overrides)
    if text.lower().endswith(".onnx"):
        _no_pretrained_for(text, pretrained)
        from edgekit.onnx_import import import_onnx  # X2Paddle and onnx: only for .onnx files

        return _inference(import_onnx(path, workspace, overrides=overrides, force=force).model, "onnx")
    if isinstance(source, Path) or path.exists() or looks_like_path(text):
        _no_pretrained_for(text, pretrained)
        return _inference(load_inference_model(path, config=overrides.config), "folder", overrides)
    base, is_int8 = split_int8(text)
    _check_zoo_overrides(base, overrides)  # before anything is exported
    size = overrides.input_size or ZOO_SIZE  # a zoo network is exported at the size asked for
    if is_int8:
        from edgekit.quantize import quantize_model  # PaddleSlim: only for int8 names

        try:
            fp32 = describe(_export(base, workspace, pretrained, force=False, input_size=size), overrides)
        except UnknownModelError as e:  # 'cls_int8' after 'edgekit quantize cls.onnx' printed that name
            hint = f" (did you mean {', '.join(n + '_int8' for n in e.close_matches)}?)" if e.close_matches else ""
            raise UsageError(f"unknown model {text!r}{hint}: NAME_int8 names a zoo model quantized; for your own "
                             "model give the folder 'edgekit quantize' printed") from None
        return _inference(quantize_model(fp32, workspace, force=force).model, "int8")
    return _inference(describe(_export(text, workspace, pretrained, force=force, input_size=size), overrides), "zoo")


def resolve_inference_model(source: Union[Source, Path], workspace: Workspace, *, pretrained: Pretrained = None,
                            overrides: Optional[DescriptionOverrides] = None, force: bool = False) -> InferenceModel:
    """resolve_model for stages that need an inference model; UsageError for a ``.nb``."""
    resolved = resolve_model(source, workspace, pretrained=pretrained, overrides=overrides, force=force)
    if resolved.model is None:
        raise UsageError(f"{source} is a Paddle Lite .nb: this needs an inference model (a folder, a zoo name "
                         "or an .onnx file)")
    return resolved.model


def resolve_float_model(source: Union[Source, Path], workspace: Workspace, *, pretrained: Pretrained = None,
                        overrides: Optional[DescriptionOverrides] = None) -> InferenceModel:
    """What ``edgekit quantize`` takes: resolve_inference_model, refusing ``NAME_int8`` names
    (quantize_model refuses programs that are quantized already)."""
    if isinstance(source, str) and not looks_like_path(source) and not Path(source).expanduser().exists():
        base, is_int8 = split_int8(source)
        if is_int8:
            raise UsageError(f"{source} is already quantized: it is what 'edgekit quantize {base}' builds")
    return resolve_inference_model(source, workspace, pretrained=pretrained, overrides=overrides)


def describe(model: InferenceModel, overrides: Optional[DescriptionOverrides]) -> InferenceModel:
    """``model`` with ``overrides`` applied to its description (labels checked against its classes)."""
    if overrides is None or overrides.empty:
        return model
    description = overrides.apply(model.described(), model.input_shape)
    check_labels(description, model.num_classes, model.name, overrides.labels)
    return dataclasses.replace(model, description=description)


def nb_file(path: Path) -> Optional[Path]:
    """The .nb a path names: a ``.nb`` file, or a convert folder's model.nb (a folder with no program)."""
    if str(path).endswith(".nb"):
        return path
    if path.is_dir() and (path / NB_FILE).is_file() and not any(path.glob("*.pdmodel")):
        return path / NB_FILE
    return None


def nb_description(nb_path: Path) -> ModelDescription:
    """What a .nb's folder says of its deployment: the convert manifest's description, a deploy
    config beside it, else the default for a 1x3x224x224 input (class ids only)."""
    manifest = read_manifest(nb_path.parent)
    if manifest is not None and manifest.description:
        return ModelDescription.from_dict(manifest.description)
    config = find_config(nb_path.parent)
    if config is not None:
        return read_config(config, BARE_NB_SHAPE)
    return dataclasses.replace(default_description(BARE_NB_SHAPE), source=BARE_NB_SOURCE)


def description_for(path: Path) -> Optional[ModelDescription]:
    """The description of an artifact on disk without converting anything: a .nb (or a convert
    folder) as nb_description reads it, a model folder as load_inference_model does; None when
    the path is neither. For bench's default --input_shape: ``description.feed_shape()``."""
    path = Path(path).expanduser()
    nb = nb_file(path)
    if nb is not None:
        return nb_description(nb) if nb.is_file() else None
    try:
        return load_inference_model(path).description
    except InvalidInputError:
        return None


def declared_input_shape(path: Path) -> Optional[tuple[int, ...]]:
    """The input shape a model file or folder declares, before any conversion (-1 = dynamic): an
    ``.onnx`` file's graph input, an inference model's feed; None for a ``.nb``, a zoo name or
    what cannot be read (the resolver says why later)."""
    path = Path(path).expanduser()
    if nb_file(path) is not None or not path.exists():
        return None
    try:
        if str(path).lower().endswith(".onnx"):
            from edgekit.onnx_import import onnx_input_shape, read_onnx

            return onnx_input_shape(read_onnx(path), path)
        return load_inference_model(path).input_shape
    except InvalidInputError:
        return None


# ------------------------------------------------------------------------------------ helpers


def _export(name: str, workspace: Workspace, pretrained: Pretrained, *, force: bool,
            input_size: tuple[int, int]) -> InferenceModel:
    from edgekit.export import export_model

    return export_model(name, workspace, pretrained=pretrained, force=force, input_size=input_size)


def _inference(model: InferenceModel, kind: str, overrides: Optional[DescriptionOverrides] = None) -> ResolvedModel:
    model = describe(model, overrides)
    return ResolvedModel(name=model.name, kind=kind, description=model.description, model=model)


def _nb(path: Path, overrides: DescriptionOverrides) -> ResolvedModel:
    if not path.is_file():
        raise InvalidInputError(f"Paddle Lite model {path} does not exist")
    base = nb_description(path)
    # a bare .nb's 224x224 is a guess: flags may set any size
    model_shape = (1, 3, -1, -1) if base.source == BARE_NB_SOURCE else base.input_shape
    description = overrides.apply(base, model_shape) if not overrides.empty else base
    manifest = read_manifest(path.parent)
    name = manifest.model if manifest else path.stem
    return ResolvedModel(name=name, kind="nb", description=description, nb_path=path)


def _check_zoo_overrides(name: str, overrides: DescriptionOverrides) -> None:
    """Flags that cannot fit a zoo model (its export: 1x3xHxW at --input-size or 224x224, 1000
    classes) fail before the export is made, so a bad request leaves no artifact."""
    if overrides.empty:
        return
    if overrides.input_size is not None:
        from edgekit.export import input_hw  # sides the networks take (no paddle imported)

        input_hw(overrides.input_size)
    size = overrides.input_size or ZOO_SIZE
    check_labels(overrides.apply(zoo_description(size), (1, 3, *size)), 1000, name, overrides.labels)


def _no_pretrained_for(what: str, pretrained: Pretrained) -> None:
    if pretrained is not None and pretrained is not False:
        raise UsageError(f"--pretrained applies to zoo model names, not to the inference model {what}")
