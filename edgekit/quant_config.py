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
# paddleslim.quant.quant_recon_static's granularity: AdaRound (layer-wise) or BRECQ (region-wise);
# None = plain quant_post_static.
RECON_LEVELS = (None, "layer-wise", "region-wise")
DEPLOY_BACKENDS = (None, "tensorrt", "mkldnn", "arm")


@dataclasses.dataclass(frozen=True)
class QuantConfig:
    """Arguments of ``paddleslim.quant.quant_post_static``, in its vocabulary.

    ``skip_patterns`` keep matching layers in float (see ``resolve_skip_patterns``);
    ``batch_nums=None`` (or 0) calibrates on every image; ``preset`` records where the values came from.

    Stronger PTQ: ``round_type="adaround"`` learns each weight's rounding (AdaRound) inside
    quant_post_static, one pass over the calibration images per layer; ``bias_correction``
    corrects the bias shift that weight rounding causes. ``recon_level`` switches to
    ``paddleslim.quant.quant_recon_static``: "layer-wise" (AdaRound on each layer's output) or
    "region-wise" (BRECQ: blocks of layers reconstructed together), with
    ``simulate_activation_quant`` (QDrop: activation quantization randomly dropped with
    ``drop_prob`` while reconstructing), ``epochs`` steps of Adam at learning rate ``lr`` per
    layer or region (PaddleSlim's names and defaults); reconstruction always rounds adaptively.
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
    recon_level: Optional[str] = None
    simulate_activation_quant: bool = False
    epochs: int = 20
    lr: float = 0.1
    drop_prob: float = 0.5
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
    choice("recon_level", RECON_LEVELS)
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
    for field in ("is_full_quantize", "onnx_format", "bias_correction", "optimize_model", "simulate_activation_quant"):
        if not isinstance(getattr(config, field), bool):
            raise UsageError(f"{field} must be true or false, not {getattr(config, field)!r}")
    _validate_reconstruction(config)
    _validate_rounding(config)


def _validate_rounding(config: QuantConfig) -> None:
    """Combinations PaddleSlim 2.6.0 / paddle 2.6.2 accept but do not honour (measured on
    edgekit.synthetic's trained network): AdaRound in the ONNX format saves weights rounded twice
    (top-1 at chance: 15% for 6 classes), and bias correction is applied only by AdaRound or by the
    fake-quant format's freeze pass (in the ONNX format alone it changes nothing)."""
    if config.recon_level is None and config.round_type == "adaround" and config.onnx_format:
        raise UsageError("round_type adaround needs onnx_format false (--no-onnx-format): in the ONNX format "
                         "PaddleSlim 2.6 saves weights rounded twice (a broken model)")
    if config.bias_correction and config.onnx_format and config.round_type != "adaround":
        raise UsageError("bias_correction has no effect in the ONNX format without adaround: use "
                         "--no-onnx-format, or round_type adaround")


def _validate_reconstruction(config: QuantConfig) -> None:
    if not _positive_int(config.epochs):
        raise UsageError(f"epochs must be a positive integer, not {config.epochs!r}")
    if not _positive_number(config.lr):
        raise UsageError(f"lr must be a positive number, not {config.lr!r}")
    if not _positive_number(config.drop_prob) or config.drop_prob >= 1:
        raise UsageError(f"drop_prob must be in (0, 1), not {config.drop_prob!r}")
    if config.recon_level is None:
        if config.simulate_activation_quant:
            raise UsageError("simulate_activation_quant (QDrop) needs recon_level layer-wise or region-wise")
        return
    if config.round_type != "round":  # quant_recon_static has no round_type: it always rounds adaptively
        raise UsageError(f"round_type {config.round_type!r} does not apply with recon_level {config.recon_level!r} "
                         "(reconstruction always learns the rounding)")
    if config.deploy_backend is not None:
        raise UsageError(f"deploy_backend {config.deploy_backend!r} does not apply with recon_level "
                         "(paddleslim.quant.quant_recon_static has no such argument)")


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


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
