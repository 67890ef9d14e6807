"""MobileNetV3 large and small (Howard et al., 2019), weight-compatible with PaddleClas.

State-dict keys and shapes equal PaddleClas's ``legendary_models/mobilenet_v3.py``:
``conv``, ``blocks.N.{expand_conv,bottleneck_conv,mid_se,linear_conv}``, ``last_second_conv``,
``last_conv`` (a 1x1 conv with neither bias nor BN, applied after global pooling), ``fc``
(weight stored [in, out], as every paddle Linear). Ops are the ones PaddleClas exports:
hard_swish, relu, hard_sigmoid (slope 0.2, offset 0.5) in the SE blocks, dropout in
``downscale_in_infer`` mode, flatten_contiguous_range.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import paddle
from paddle import nn

from edgekit.zoo._registry import PretrainedCfg, register_model

FAMILY = "MobileNetV3"

_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/{}_pretrained.pdparams"

WEIGHTS = {
    name: PretrainedCfg(url=_URL.format(name), distilled=name.endswith("_ssld"))
    for name in [f"MobileNetV3_{size}_{scale}" for size in ("large", "small")
                 for scale in ("x0_35", "x0_5", "x0_75", "x1_0", "x1_25")]
    + ["MobileNetV3_large_x1_0_ssld", "MobileNetV3_small_x1_0_ssld"]
}


class BlockCfg(NamedTuple):
    kernel: int
    expand: int  # channels inside the block, before scaling
    out: int  # output channels, before scaling
    se: bool
    act: str  # "relu" or "hardswish"
    stride: int


class Config(NamedTuple):
    blocks: tuple[BlockCfg, ...]
    squeeze_channels: int  # last_second_conv output, before scaling


LARGE = Config(squeeze_channels=960, blocks=(
    BlockCfg(3, 16, 16, False, "relu", 1),
    BlockCfg(3, 64, 24, False, "relu", 2),
    BlockCfg(3, 72, 24, False, "relu", 1),
    BlockCfg(5, 72, 40, True, "relu", 2),
    BlockCfg(5, 120, 40, True, "relu", 1),
    BlockCfg(5, 120, 40, True, "relu", 1),
    BlockCfg(3, 240, 80, False, "hardswish", 2),
    BlockCfg(3, 200, 80, False, "hardswish", 1),
    BlockCfg(3, 184, 80, False, "hardswish", 1),
    BlockCfg(3, 184, 80, False, "hardswish", 1),
    BlockCfg(3, 480, 112, True, "hardswish", 1),
    BlockCfg(3, 672, 112, True, "hardswish", 1),
    BlockCfg(5, 672, 160, True, "hardswish", 2),
    BlockCfg(5, 960, 160, True, "hardswish", 1),
    BlockCfg(5, 960, 160, True, "hardswish", 1),
))

SMALL = Config(squeeze_channels=576, blocks=(
    BlockCfg(3, 16, 16, True, "relu", 2),
    BlockCfg(3, 72, 24, False, "relu", 2),
    BlockCfg(3, 88, 24, False, "relu", 1),
    BlockCfg(5, 96, 40, True, "hardswish", 2),
    BlockCfg(5, 240, 40, True, "hardswish", 1),
    BlockCfg(5, 240, 40, True, "hardswish", 1),
    BlockCfg(5, 120, 48, True, "hardswish", 1),
    BlockCfg(5, 144, 48, True, "hardswish", 1),
    BlockCfg(5, 288, 96, True, "hardswish", 2),
    BlockCfg(5, 576, 96, True, "hardswish", 1),
    BlockCfg(5, 576, 96, True, "hardswish", 1),
))

STEM_CHANNELS = 16
HEAD_CHANNELS = 1280  # last_conv output; not scaled


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor``, never more than 10% down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _activation(name: Optional[str]) -> nn.Layer:
    if name == "hardswish":
        return nn.Hardswish()
    if name == "relu":
        return nn.ReLU()
    return nn.Identity()


class ConvBNLayer(nn.Layer):
    """Conv (no bias) → BatchNorm → optional activation; keys ``conv.*`` and ``bn.*``."""

    def __init__(self, in_c: int, out_c: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: Optional[str] = None) -> None:
        super().__init__()
        self.conv = nn.Conv2D(in_c, out_c, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                              bias_attr=False)
        self.bn = nn.BatchNorm(out_c)
        self.act = _activation(act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.act(self.bn(self.conv(x)))


class HardSigmoid(nn.Layer):
    """hard_sigmoid with PaddleClas's slope 0.2 and offset 0.5 (nn.Hardsigmoid fixes 1/6)."""

    def __init__(self, slope: float = 0.2, offset: float = 0.5) -> None:
        super().__init__()
        self.slope = slope
        self.offset = offset

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return nn.functional.hardsigmoid(x, slope=self.slope, offset=self.offset)


class SEModule(nn.Layer):
    """Squeeze-and-excitation: pool → 1x1 conv (c → c//4, bias) → relu → 1x1 conv → hard_sigmoid → scale."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)
        self.hardsigmoid = HardSigmoid()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        weights = self.hardsigmoid(self.conv2(self.relu(self.conv1(self.avg_pool(x)))))
        return paddle.multiply(x, weights)


class ResidualUnit(nn.Layer):
    """Inverted residual: 1x1 expand → depthwise k×k → optional SE → 1x1 linear (+ identity)."""

    def __init__(self, in_c: int, mid_c: int, out_c: int, kernel: int, stride: int, use_se: bool,
                 act: str) -> None:
        super().__init__()
        self.if_shortcut = stride == 1 and in_c == out_c
        self.if_se = use_se
        self.expand_conv = ConvBNLayer(in_c, mid_c, 1, act=act)
        self.bottleneck_conv = ConvBNLayer(mid_c, mid_c, kernel, stride=stride, groups=mid_c, act=act)
        if use_se:
            self.mid_se = SEModule(mid_c)
        self.linear_conv = ConvBNLayer(mid_c, out_c, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.bottleneck_conv(self.expand_conv(x))
        if self.if_se:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return paddle.add(x, y) if self.if_shortcut else y


class MobileNetV3Net(nn.Layer):
    def __init__(self, config: Config, scale: float = 1.0, class_num: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        channels = make_divisible(STEM_CHANNELS * scale)
        self.conv = ConvBNLayer(3, channels, 3, stride=2, act="hardswish")
        units = []
        for cfg in config.blocks:
            out_c = make_divisible(cfg.out * scale)
            units.append(ResidualUnit(channels, make_divisible(cfg.expand * scale), out_c, cfg.kernel, cfg.stride,
                                      cfg.se, cfg.act))
            channels = out_c
        self.blocks = nn.Sequential(*units)
        squeeze = make_divisible(config.squeeze_channels * scale)
        self.last_second_conv = ConvBNLayer(channels, squeeze, 1, act="hardswish")
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.last_conv = nn.Conv2D(squeeze, HEAD_CHANNELS, 1, bias_attr=False)
        self.hardswish = nn.Hardswish()
        # downscale_in_infer: identity at inference, as in PaddleClas's exported programs
        self.dropout = nn.Dropout(p=dropout, mode="downscale_in_infer")
        self.flatten = nn.Flatten(start_axis=1, stop_axis=-1)
        self.fc = nn.Linear(HEAD_CHANNELS, class_num)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.last_second_conv(self.blocks(self.conv(x)))
        x = self.hardswish(self.last_conv(self.avg_pool(x)))
        return self.fc(self.flatten(self.dropout(x)))


def _mobilenet_v3(config: Config, scale: float, class_num: int) -> MobileNetV3Net:
    return MobileNetV3Net(config, scale=scale, class_num=class_num)


_register = register_model(FAMILY, WEIGHTS)


@_register
def MobileNetV3_large_x0_35(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(LARGE, 0.35, class_num)


@_register
def MobileNetV3_large_x0_5(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(LARGE, 0.5, class_num)


@_register
def MobileNetV3_large_x0_75(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(LARGE, 0.75, class_num)


@_register
def MobileNetV3_large_x1_0(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(LARGE, 1.0, class_num)


@_register
def MobileNetV3_large_x1_25(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(LARGE, 1.25, class_num)


@_register
def MobileNetV3_small_x0_35(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(SMALL, 0.35, class_num)


@_register
def MobileNetV3_small_x0_5(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(SMALL, 0.5, class_num)


@_register
def MobileNetV3_small_x0_75(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(SMALL, 0.75, class_num)


@_register
def MobileNetV3_small_x1_0(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(SMALL, 1.0, class_num)


@_register
def MobileNetV3_small_x1_25(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(SMALL, 1.25, class_num)


@_register
def MobileNetV3_large_x1_0_ssld(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(LARGE, 1.0, class_num)


@_register
def MobileNetV3_small_x1_0_ssld(class_num: int = 1000) -> MobileNetV3Net:
    return _mobilenet_v3(SMALL, 1.0, class_num)
