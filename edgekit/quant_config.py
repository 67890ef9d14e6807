"""Quantization settings: ``QuantConfig`` (the arguments of PaddleSlim's ``quant_post_static``, in its
vocabulary) and the presets of ``opt_configs/quant_presets.yaml``. Imports nothing heavy."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

from edgekit.config import config_dir, load_config
from edgekit.errors import ConfigError, UsageError

PRESETS_CONFIG = "quant_presets"
DEFAULT_PRESET = "paddleclas"

ALGOS = ("hist", "KL", "avg", "mse", "emd", "abs_max")
WEIGHT_QUANTIZE_TYPES = ("channel_wise_abs_max", "abs_max")
ACTIVATION_QUANTIZE_TYPES = ("range_abs_max", "moving_average_abs_max", "abs_max")
ROUND_TYPES = ("round", "adaround")
DEPLOY_BACKENDS = (None, "tensorrt", "mkldnn", "arm")


@dataclasses.dataclass(frozen=True)
class QuantConfig:
    """Arguments of ``paddleslim.quant.quant_post_static``, in its vocabulary.

    ``skip_patterns`` keep matching layers in float (see ``resolve_skip_patterns``);
    ``batch_nums=None`` (or 0) calibrates on every image; ``preset`` records where the values came from.
    """

    algo: str = "hist"
    hist_percent: float = 0.9999
    batch_size: int = 1
    batch_nums: Optional[int] = None
    weight_quantize_type: str = "channel_wise_abs_max"
    activation_quantize_type: str = "range_abs_max"
    quantizable_op_type: tuple[str, ...] = ("conv2d", "depthwise_conv2d", "mul")
    is_full_quantize: bool = False
    weight_bits: int = 8
    activation_bits: int = 8
    onnx_format: bool = True
    round_type: str = "round"
    bias_correction: bool = False
    optimize_model: bool = False
    deploy_backend: Optional[str] = None
    skip_patterns: tuple[str, ...] = ()
    preset: Optional[str] = None

    def __post_init__(self) -> None:
        # Normalize what users type ("kl", a list of ops) into PaddleSlim's exact spelling.
        spelled = {a.lower(): a for a in ALGOS}
        if isinstance(self.algo, str) and self.algo.lower() in spelled:
            object.__setattr__(self, "algo", spelled[self.algo.lower()])
        object.__setattr__(self, "quantizable_op_type", _as_tuple(self.quantizable_op_type, "quantizable_op_type"))
        object.__setattr__(self, "skip_patterns", _as_tuple(self.skip_patterns, "skip"))
        if self.batch_nums == 0:  # "every image", which PaddleSlim spells None
            object.__setattr__(self, "batch_nums", None)
        _validate(self)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "QuantConfig":
        """The preset ``name`` of opt_configs/quant_presets.yaml, with ``overrides`` (None = keep)."""
        values = preset_values(name)
        try:
            base = cls(**values, preset=name)
        except UsageError as e:
            raise ConfigError(f"preset {name!r} in {PRESETS_CONFIG}.yaml: {e}") from None
        changes = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise UsageError(f"unknown quantization setting(s) {', '.join(unknown)}")
        return dataclasses.replace(base, **changes)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["quantizable_op_type"] = list(self.quantizable_op_type)
        data["skip_patterns"] = list(self.skip_patterns)
        return data


def preset_overrides(config: QuantConfig) -> dict:
    """The settings of ``config`` that differ from its preset's (empty without a preset)."""
    if config.preset is None:
        return {}
    base = QuantConfig.from_preset(config.preset).to_dict()
    return {k: v for k, v in config.to_dict().items() if base.get(k) != v}


def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{what} must be a list of names, not {value!r}")
    return tuple(value)


def _validate(config: QuantConfig) -> None:
    def choice(field: str, allowed: Sequence) -> None:
        value = getattr(config, field)
        if value not in allowed:
            known = ", ".join(str(a) for a in allowed)
            raise UsageError(f"unknown {field} {value!r} (PaddleSlim accepts: {known})")

    choice("algo", ALGOS)
    choice("weight_quantize_type", WEIGHT_QUANTIZE_TYPES)
    choice("activation_quantize_type", ACTIVATION_QUANTIZE_TYPES)
    choice("round_type", ROUND_TYPES)
    choice("deploy_backend", DEPLOY_BACKENDS)
    if not isinstance(config.hist_percent, (int, float)) or not 0 < config.hist_percent <= 1:
        raise UsageError(f"hist_percent must be in (0, 1], not {config.hist_percent!r}")
    if not _positive_int(config.batch_size):
        raise UsageError(f"batch_size must be a positive integer, not {config.batch_size!r}")
    if config.batch_nums is not None and not _positive_int(config.batch_nums):
        raise UsageError(f"batch_nums must be a positive integer (or none for all images), not {config.batch_nums!r}")
    for field in ("weight_bits", "activation_bits"):
        if not _positive_int(getattr(config, field)) or getattr(config, field) > 16:
            raise UsageError(f"{field} must be an integer from 1 to 16, not {getattr(config, field)!r}")
    if config.weight_bits != config.activation_bits:
        raise UsageError("weight_bits and activation_bits must be equal (PaddleSlim supports no other case)")
    if not config.quantizable_op_type and not config.is_full_quantize:
        raise UsageError("quantizable_op_type is empty: nothing would be quantized")
    for field in ("is_full_quantize", "onnx_format", "bias_correction", "optimize_model"):
        if not isinstance(getattr(config, field), bool):
            raise UsageError(f"{field} must be true or false, not {getattr(config, field)!r}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def presets() -> dict[str, dict]:
    """Every preset of opt_configs/quant_presets.yaml: name → its mapping (with description)."""
    data = load_config(PRESETS_CONFIG)
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"preset {name!r} in {PRESETS_CONFIG}.yaml must be a mapping")
    return data


def preset_values(name: str) -> dict:
    """The QuantConfig fields a preset sets (its description left out); ConfigError if unknown."""
    entries = presets()
    if name not in entries:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(sorted(entries))}; "
                          f"defined in {config_dir() / (PRESETS_CONFIG + '.yaml')})")
    values = {k: v for k, v in entries[name].items() if k != "description"}
    fields = {f.name for f in dataclasses.fields(QuantConfig)} - {"preset"}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"preset {name!r} in {PRESETS_CONFIG}.yaml has unknown key(s) {', '.join(unknown)}")
    return values
