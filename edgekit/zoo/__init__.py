"""The model zoo: PaddleClas's mobile classifiers, built with PaddleClas-compatible weights.

    >>> from edgekit import zoo
    >>> model = zoo.create_model("MobileNetV3_large_x1_0_ssld", pretrained=True)

Importing this package is cheap (no paddle): the family modules, which define the networks,
are imported by the first function that needs the registry.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from edgekit import reference
from edgekit.errors import UsageError
from edgekit.zoo._registry import FAMILY_MODULES, ModelEntry, PretrainedCfg, list_models, model_entry, model_entrypoint, \
    register_model

if TYPE_CHECKING:
    import paddle

__all__ = [
    "FAMILY_MODULES", "ModelEntry", "ModelInfo", "PretrainedCfg", "create_model", "list_models",
    "model_entry", "model_entrypoint", "model_family", "model_info", "register_model", "weights_path",
    "RANDOM_WEIGHTS_NOTE",
]

RANDOM_WEIGHTS_NOTE = "random weights: accuracy is meaningless; latency and storage are valid"


def base_architecture(name: str) -> str:
    """The architecture behind ``name``: itself, or for an ``..._int8`` artifact the model it quantizes."""
    return reference.split_int8(name)[0]


def _refuse_int8(name: str) -> None:
    base = base_architecture(name)
    if base != name:
        raise UsageError(f"{name} is not an architecture: it is built by 'edgekit quantize {base}'")


def create_model(name: str, pretrained: Any = None, class_num: int = 1000, *,
                 cache_dir: Optional[os.PathLike] = None) -> "paddle.nn.Layer":
    """Build ``name`` in eval mode.

    ``pretrained``: None/False (random weights, said once on stderr), True (the official
    PaddleClas weights, downloaded into the cache), a local ``.pdparams`` path, or an
    http(s) URL. ``cache_dir`` overrides the download cache (default
    ``<workspace>/cache/weights``).
    """
    _refuse_int8(name)
    entry = model_entry(name)
    if not isinstance(class_num, int) or class_num < 1:
        raise UsageError(f"class_num must be a positive integer, not {class_num!r}")
    model = entry.entrypoint(class_num=class_num)
    if pretrained is None or pretrained is False:
        print(f"edgekit: {name}: {RANDOM_WEIGHTS_NOTE}", file=sys.stderr)
    else:
        from edgekit.zoo._pretrained import load_pretrained

        load_pretrained(model, entry, pretrained, class_num, Path(cache_dir) if cache_dir else None)
    model.eval()
    return model


def weights_path(name: str, pretrained: Any, *, cache_dir: Optional[os.PathLike] = None) -> Optional[Path]:
    """The local weights file ``create_model(name, pretrained)`` would load (downloading it now);
    None for random weights. Lets a stage hash the weights before building."""
    from edgekit.zoo._pretrained import resolve_weights

    _refuse_int8(name)
    return resolve_weights(model_entry(name), pretrained, Path(cache_dir) if cache_dir else None)


def model_family(name: str) -> str:
    """``MobileNetV1``, ``MobileNetV2``, ``MobileNetV3`` or ``ShuffleNetV2``."""
    return model_entry(base_architecture(name)).family


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Reference values of PaddleClas's table plus figures computed from the built network."""

    name: str
    family: str
    architecture: str  # the network built: ``name`` itself, or the base of an ``_int8`` artifact
    built_by: str  # "definition" or "quantization"
    pretrained_url: Optional[str]
    reference: Optional[dict]
    params_m_computed: float  # trainable parameters, millions (BatchNorm running statistics excluded)
    params_m_with_bn_stats: float  # all stored values, millions
    macs_g: float  # multiply-accumulates at 1x3x224x224, billions
    flops_ratio: Optional[float]  # the table's FLOPs (G) / macs_g

    def to_dict(self) -> dict:
        """Flat: the table's columns (name, family, top1, ..., t4_fp32_bs8_ms), then the computed figures."""
        data = dataclasses.asdict(self)
        return {**(data.pop("reference") or {}), **data}

    def to_text(self) -> str:
        from edgekit._table import format_cell

        row = self.reference or {}
        lines = [f"{self.name} ({self.family})"]
        if self.built_by == "quantization":
            lines.append(f"  built by quantization: edgekit quantize {self.architecture}; "
                         f"the figures below are those of {self.architecture}")
        lines.append(f"  pretrained weights  {self.pretrained_url}")
        lines.append("  PaddleClas table:   " + "  ".join(
            f"{key} {format_cell(row.get(key))}" for key in ("top1", "top5", "flops_g", "params_m", "sd855_ms",
                                                            "storage_mb")))
        lines.append(f"  params_m_computed   {self.params_m_computed:.4f}  (trainable; "
                     f"{self.params_m_with_bn_stats:.4f} with BatchNorm running statistics)")
        lines.append(f"  macs_g              {self.macs_g:.4f}  (conv + linear, 1x3x224x224)")
        lines.append(f"  flops_ratio         {format_cell(self.flops_ratio)}  (table FLOPs / macs_g)")
        return "\n".join(lines)


def model_info(name: str) -> ModelInfo:
    """Build ``name`` (random weights, no message) and measure it; int8 names use their base."""
    from edgekit.zoo._complexity import count_all_parameters, count_macs, count_parameters

    architecture = base_architecture(name)
    entry = model_entry(architecture)
    model = entry.entrypoint(class_num=1000)
    model.eval()
    macs_g = count_macs(model) / 1e9
    row = reference.find_reference(name)
    # the int8 row has no FLOPs of its own: its network is the base architecture's
    flops_row = row if row is not None and row.flops_g is not None else reference.find_reference(architecture)
    flops_g = flops_row.flops_g if flops_row is not None else None
    return ModelInfo(
        name=name,
        family=entry.family,
        architecture=architecture,
        built_by="quantization" if architecture != name else "definition",
        pretrained_url=entry.pretrained.url,
        reference=row.to_dict() if row is not None else None,
        params_m_computed=round(count_parameters(model) / 1e6, 4),
        params_m_with_bn_stats=round(count_all_parameters(model) / 1e6, 4),
        macs_g=round(macs_g, 4),
        flops_ratio=round(flops_g / macs_g, 3) if flops_g else None,
    )
