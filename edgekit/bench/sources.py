"""The models a ``bench`` call runs: names checked before anything else, then each converted (or a
ready ``.nb`` taken as it is) for the opt target the devices need. All conversion happens before
the first run, so that opt does not compete with a measurement on the same host."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from edgekit.bench.outcome import Failure
from edgekit.errors import InvalidInputError, ToolError
from edgekit.workspace import Workspace, sha256_file

if TYPE_CHECKING:
    from edgekit.description import DescriptionOverrides


@dataclasses.dataclass(frozen=True)
class NbFile:
    """The .nb that a run pushes: a converted model of the workspace, or a file the user gave."""

    name: str
    path: Path
    bytes: int
    sha256: str
    target: Optional[str]
    precision: str  # "int8" or "fp32"
    input_shape: Optional[tuple[int, ...]] = None  # NCHW of the model's deployment description, when known

    @property
    def remote_name(self) -> str:
        """Its name on the device: content-addressed, so that two runs never replace each other's model."""
        return f"{self.name}-{self.sha256[:12]}.nb"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "bytes": self.bytes, "sha256": self.sha256}


def unique(models: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in models:
        seen.setdefault(str(name), None)
    return list(seen)


def check_sources(names: list[str]) -> None:
    """Stop on a wrong name or path before anything is converted or run."""
    from edgekit.reference import find_reference, split_int8

    for name in names:
        path = Path(name).expanduser()
        if path.exists():
            continue
        if "/" in name or name.endswith((".nb", ".pdmodel")):
            raise InvalidInputError(f"model file or folder {name} does not exist")
        base, _ = split_int8(name)
        if find_reference(base) is None:  # the seed's names need no registry (which imports paddle)
            from edgekit import zoo

            zoo.model_entry(base)  # UnknownModelError naming close matches


def prepare(names: list[str], workspace: Workspace, targets: set[str], *,
            overrides: Optional["DescriptionOverrides"] = None,
            input_shape: Optional[Sequence[int]] = None) -> tuple[dict, list[Failure]]:
    """{model: {target: NbFile}} for every model that converts; a failure for each that does not.
    ``overrides``: the description flags (--config, --input-size, ...); ``input_shape``: --input-shape,
    whose H/W size a model with a dynamic height/width when no --input-size is given."""
    prepared: dict[str, dict[str, NbFile]] = {}
    failures: list[Failure] = []
    for name in names:
        try:
            described = sized_by_shape(name, overrides, input_shape)
            prepared[name] = {target: nb_for(name, workspace, target, described) for target in sorted(targets)}
        except ToolError as error:  # opt or PaddleSlim failed on this model: the others still run
            failures.append(Failure(model=name, device=None, error=error))
    return prepared, failures


def sized_by_shape(source: str, overrides: Optional["DescriptionOverrides"],
                   input_shape: Optional[Sequence[int]]) -> Optional["DescriptionOverrides"]:
    """``overrides`` with --input-size taken from --input-shape's H/W when the model's own height or
    width is dynamic and --input-size is not given (a fixed-size model keeps its size)."""
    if input_shape is None or len(input_shape) != 4 or (overrides is not None and overrides.input_size is not None):
        return overrides
    from edgekit.description import DescriptionOverrides
    from edgekit.resolve import declared_input_shape

    declared = declared_input_shape(Path(source).expanduser())
    if declared is None or len(declared) != 4 or (declared[2] > 0 and declared[3] > 0):
        return overrides
    size = (int(input_shape[2]), int(input_shape[3]))
    return dataclasses.replace(overrides or DescriptionOverrides(), input_size=size)


def nb_for(source: str, workspace: Workspace, target: str,
           overrides: Optional["DescriptionOverrides"] = None) -> NbFile:
    from edgekit.nb_info import describe_nb, precision_name

    path = Path(source).expanduser()
    if path.suffix == ".nb" and path.is_file():
        # a ready .nb runs as it is, if it was made for the devices' target
        info = describe_nb(path)
        if info.target is not None and info.target != target:
            raise InvalidInputError(
                f"{path} was converted for {info.target}, but the device(s) of this run need {target} .nb "
                f"files; convert it with 'edgekit convert MODEL --target {target}', or name the model "
                f"and bench converts it")
        return NbFile(name=info.name, path=path.resolve(), bytes=path.stat().st_size, sha256=sha256_file(path),
                      target=info.target, precision=info.precision,
                      input_shape=described_input_shape(path, overrides, workspace))
    from edgekit.convert import convert_model

    lite = convert_model(source, workspace, target=target, overrides=overrides)
    return NbFile(name=lite.name, path=lite.nb_path, bytes=lite.bytes, sha256=lite.sha256, target=lite.target,
                  precision=precision_name(lite.name, lite.quantized),
                  input_shape=described_input_shape(lite.nb_path))


def described_input_shape(nb_path: Path, overrides: Optional["DescriptionOverrides"] = None,
                          workspace: Optional[Workspace] = None) -> Optional[tuple[int, ...]]:
    """The shape the model is fed as its deployment description says (edgekit.resolve.description_for:
    the convert manifest's, or a deploy config beside a user's .nb; the description flags on top):
    a dynamic height/width takes the preprocessing's size; None when nothing says (then the seed's
    1,3,224,224)."""
    from edgekit.errors import UsageError
    from edgekit.resolve import BARE_NB_SOURCE, description_for, resolve_model

    if overrides is not None and not overrides.empty and workspace is not None:
        description = resolve_model(nb_path, workspace, overrides=overrides).description
        if description is not None and description.source.startswith(BARE_NB_SOURCE):
            description = description if overrides.input_size is not None else None
    else:
        description = description_for(nb_path)
    if description is None or description.source == BARE_NB_SOURCE:
        return None  # a .nb without manifest or config: its shape is a guess, not the model's own
    try:
        return description.feed_shape()
    except UsageError:  # dynamic H/W and no size: keep the seed's
        return None
