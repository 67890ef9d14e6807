"""The model registry: architecture name → entrypoint, family and pretrained-weight metadata.

Family modules register their entrypoints with ``@register_model`` when they are imported.
They import paddle, so this module does not import them at start-up: the first call that
needs the registry (``list_models``, ``model_entrypoint``, ...) imports every family once.
The registry dict is the only module-level mutable state of edgekit (filled once, read after).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable, Mapping, Optional

from edgekit import reference
from edgekit.errors import UnknownModelError
from edgekit.preprocess import IMAGENET_MEAN, IMAGENET_STD

# Family name → module that defines it. Order is the order of PaddleClas's mobile table.
FAMILY_MODULES: Mapping[str, str] = {
    "MobileNetV1": "edgekit.zoo.mobilenet_v1",
    "MobileNetV2": "edgekit.zoo.mobilenet_v2",
    "MobileNetV3": "edgekit.zoo.mobilenet_v3",
    "ShuffleNetV2": "edgekit.zoo.shufflenet_v2",
}


@dataclasses.dataclass(frozen=True)
class PretrainedCfg:
    """Where a model's published PaddleClas weights live and what they expect as input.

    ``sha256`` and ``num_bytes`` are None where PaddleClas publishes no checksum or size;
    the loader then checks what it can (complete download, keys, shapes). Every model of the
    table takes ImageNet's mean/std, which are edgekit.preprocess's (a test checks that they agree).
    """

    url: str
    sha256: Optional[str] = None
    num_bytes: Optional[int] = None
    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    license: str = "Apache-2.0"
    classifier: str = "fc"  # prefix of the classification layer's keys in the state dict
    distilled: bool = False  # SSLD (semi-supervised knowledge distillation) weights

    @property
    def num_classes(self) -> int:
        return 1000


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    entrypoint: Callable[..., object]
    pretrained: PretrainedCfg


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(family: str, weights: Mapping[str, PretrainedCfg]) -> Callable[[Callable], Callable]:
    """Decorator: register the function under its own name, with ``weights[name]`` as metadata."""

    def register(fn: Callable) -> Callable:
        name = fn.__name__
        if name in _REGISTRY:
            raise RuntimeError(f"model {name} registered twice")
        _REGISTRY[name] = ModelEntry(name=name, family=family, entrypoint=fn, pretrained=weights[name])
        return fn

    return register


def _import_families() -> None:
    from edgekit._paddle import import_paddle

    import_paddle()  # the families import paddle: quietly, once
    for module in FAMILY_MODULES.values():
        importlib.import_module(module)  # registers its models; a no-op after the first time


def list_models(family: Optional[str] = None) -> list[str]:
    """Architecture names (``_ssld`` variants included), in PaddleClas's table order."""
    _import_families()
    order = {name: i for i, name in enumerate(reference.reference_names())}
    names = [e.name for e in _REGISTRY.values() if family is None or e.family == family]
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def model_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; UnknownModelError naming the closest names otherwise."""
    _import_families()
    entry = _REGISTRY.get(name)
    if entry is None:
        raise UnknownModelError(name, reference.closest_names(name, list_models() + reference.reference_names()))
    return entry


def model_entrypoint(name: str) -> Callable[..., object]:
    return model_entry(name).entrypoint
