"""MobileNetV1 (Howard et al., 2017), weight-compatible with PaddleClas.

State-dict keys and shapes equal PaddleClas's ``legendary_models/mobilenet_v1.py``: ``conv``
(the stem), ``blocks.N.{depthwise_conv,pointwise_conv}.{conv,bn}``, ``fc``. Channel counts are
``int(channels * scale)`` (truncated, no rounding to a multiple of 8), as in PaddleClas.
"""

from __future__ import annotations

from typing import NamedTuple

import paddle
from paddle import ParamAttr, nn
from paddle.nn.initializer import KaimingNormal

from edgekit.zoo._registry import PretrainedCfg, register_model

FAMILY = "MobileNetV1"

_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/{}_pretrained.pdparams"

WEIGHTS = {
    name: PretrainedCfg(url=_URL.format(name), distilled=name.endswith("_ssld"))
    for name in ("MobileNetV1_x0_25", "MobileNetV1_x0_5", "MobileNetV1_x0_75", "MobileNetV1", "MobileNetV1_ssld")
}


class SeparableCfg(NamedTuple):
    out: int  # pointwise output channels, before scaling
    stride: int  # of the depthwise conv


STEM_CHANNELS = 32
BLOCKS = (
    SeparableCfg(64, 1), SeparableCfg(128, 2), SeparableCfg(128, 1), SeparableCfg(256, 2), SeparableCfg(256, 1),
    SeparableCfg(512, 2), SeparableCfg(512, 1), SeparableCfg(512, 1), SeparableCfg(512, 1), SeparableCfg(512, 1),
    SeparableCfg(512, 1), SeparableCfg(1024, 2), SeparableCfg(1024, 1),
)


class ConvBNLayer(nn.Layer):
    """Conv (no bias, Kaiming init) → BatchNorm → ReLU; keys ``conv.*`` and ``bn.*``."""

    def __init__(self, in_c: int, out_c: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2D(in_c, out_c, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                              weight_attr=ParamAttr(initializer=KaimingNormal()), bias_attr=False)
        self.bn = nn.BatchNorm(out_c)
        self.relu = nn.ReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.relu(self.bn(self.conv(x)))


class DepthwiseSeparable(nn.Layer):
    def __init__(self, in_c: int, out_c: int, stride: int) -> None:
        super().__init__()
        self.depthwise_conv = ConvBNLayer(in_c, in_c, 3, stride=stride, groups=in_c)
        self.pointwise_conv = ConvBNLayer(in_c, out_c, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class MobileNetV1Net(nn.Layer):
    def __init__(self, scale: float = 1.0, class_num: int = 1000) -> None:
        super().__init__()
        channels = int(STEM_CHANNELS * scale)
        self.conv = ConvBNLayer(3, channels, 3, stride=2)
        blocks = []
        for cfg in BLOCKS:
            blocks.append(DepthwiseSeparable(channels, int(cfg.out * scale), cfg.stride))
            channels = int(cfg.out * scale)
        self.blocks = nn.Sequential(*blocks)
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.flatten = nn.Flatten(start_axis=1, stop_axis=-1)
        self.fc = nn.Linear(channels, class_num, weight_attr=ParamAttr(initializer=KaimingNormal()))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.avg_pool(self.blocks(self.conv(x)))
        return self.fc(self.flatten(x))


def _mobilenet_v1(scale: float, class_num: int) -> MobileNetV1Net:
    return MobileNetV1Net(scale=scale, class_num=class_num)


_register = register_model(FAMILY, WEIGHTS)


@_register
def MobileNetV1_x0_25(class_num: int = 1000) -> MobileNetV1Net:
    return _mobilenet_v1(0.25, class_num)


@_register
def MobileNetV1_x0_5(class_num: int = 1000) -> MobileNetV1Net:
    return _mobilenet_v1(0.5, class_num)


@_register
def MobileNetV1_x0_75(class_num: int = 1000) -> MobileNetV1Net:
    return _mobilenet_v1(0.75, class_num)


@_register
def MobileNetV1(class_num: int = 1000) -> MobileNetV1Net:
    return _mobilenet_v1(1.0, class_num)


@_register
def MobileNetV1_ssld(class_num: int = 1000) -> MobileNetV1Net:
    return _mobilenet_v1(1.0, class_num)
