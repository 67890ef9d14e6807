"""What a Paddle Lite ``.nb`` file is: the model's name, the opt target, the precision.

One answer for every stage that takes a ``.nb`` (bench, app build): the convert manifest beside
the file when ``edgekit convert`` made it (``<workspace>/convert/MODEL/KEY/model.nb``), else what
opt recorded in the file itself (its kernel keys, ``lite_runtime.inspect_nb``) and the file name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from edgekit.errors import InvalidInputError
from edgekit.reference import split_int8
from edgekit.workspace import read_manifest

CONVERT_STAGE = "convert"
# opt's naive-buffer header: a little-endian uint16 meta version, then a 16-byte version string.
NB_META_VERSIONS = range(1, 16)
NB_HEADER_BYTES = 18
# File names that say nothing about the model (opt's and tools' defaults): the folder names it.
GENERIC_STEMS = frozenset({"", "model", "opt", "inference", "__model__", "optimized_model"})
# Kernel targets, most specific first: a .nb with arm kernels is for phones even if some ops are
# "host" or "any" kernels.
TARGET_ORDER = ("arm", "x86", "opencl", "metal", "npu", "xpu", "nnadapter", "fpga", "cuda")


@dataclasses.dataclass(frozen=True)
class NbInfo:
    path: Path
    name: str  # the model's name: the manifest's, else the file's (or its folder's) name
    target: Optional[str]  # "arm", "x86", ...; None when neither manifest nor kernels tell
    precision: str  # "int8" or "fp32"
    from_manifest: bool


def looks_like_nb(path: Path) -> bool:
    """Whether ``path`` starts like opt's naive-buffer output (meta version, then ``vX.Y``)."""
    try:
        with open(path, "rb") as f:
            header = f.read(NB_HEADER_BYTES)
    except OSError:
        return False
    version = header[2:NB_HEADER_BYTES].split(b"\0", 1)[0]
    return (len(header) == NB_HEADER_BYTES and int.from_bytes(header[:2], "little") in NB_META_VERSIONS
            and version.startswith(b"v") and version[1:2].isdigit())


def describe_nb(path: Path) -> NbInfo:
    """Name, target and precision of the ``.nb`` at ``path`` (InvalidInputError when it is not one)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInputError(f"Paddle Lite model {path} does not exist")
    if not looks_like_nb(path):
        raise InvalidInputError(f"{path} is not a Paddle Lite .nb model (expected opt's naive_buffer output)")
    manifest = read_manifest(path.parent)
    if manifest is not None and manifest.stage == CONVERT_STAGE and manifest.settings.get("target"):
        return NbInfo(path=path, name=manifest.model, target=str(manifest.settings["target"]),
                      precision=precision_name(manifest.model, bool(manifest.settings.get("quantized"))),
                      from_manifest=True)
    from edgekit.lite_runtime import inspect_nb

    kernels = inspect_nb(path)
    name = path.stem if path.stem.lower() not in GENERIC_STEMS else path.resolve().parent.name
    target = next((t for t in TARGET_ORDER if t in kernels.targets), None)
    return NbInfo(path=path, name=name or "model", target=target, precision=precision_name(name, kernels.int8),
                  from_manifest=False)


def precision_name(model: str, int8_kernels: bool = False) -> str:
    """"int8" for a model with int8 kernels or named ``…_int8`` (edgekit's quantized artifacts), else "fp32"."""
    return "int8" if int8_kernels or split_int8(model)[1] else "fp32"
