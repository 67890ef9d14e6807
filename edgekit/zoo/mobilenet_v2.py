"""MobileNetV2 (Sandler et al., 2018), weight-compatible with PaddleClas.

State-dict keys and shapes equal PaddleClas's ``model_zoo/mobilenet_v2.py``: ``conv1`` (stem),
stages ``conv2`` … ``conv8`` each holding ``_first_block`` and then ``convS_2``, ``convS_3``, …
(``_expand_conv``, ``_bottleneck_conv``, ``_linear_conv``, each ``_conv`` + ``_batch_norm``),
``conv9`` (the last 1x1 conv) and ``out`` (the classifier). Activations are relu6; every block,
the t=1 one included, has its 1x1 expansion conv; the last conv keeps 1280 channels unless
the multiplier is above 1.
"""

from __future__ import annotations

from typing import NamedTuple

import paddle
from paddle import nn

from edgekit.zoo._registry import PretrainedCfg, register_model

FAMILY = "MobileNetV2"

_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/{}_pretrained.pdparams"

WEIGHTS = {
    name: PretrainedCfg(url=_URL.format(name), classifier="out", distilled=name.endswith("_ssld"))
    for name in ("MobileNetV2_x0_25", "MobileNetV2_x0_5", "MobileNetV2_x0_75", "MobileNetV2", "MobileNetV2_x1_5",
                 "MobileNetV2_x2_0", "MobileNetV2_ssld")
}


class StageCfg(NamedTuple):
    expansion: int  # t
    out: int  # c, before scaling
    repeats: int  # n
    stride: int  # s, of the first block


STAGES = (
    StageCfg(1, 16, 1, 1),
    StageCfg(6, 24, 2, 2),
    StageCfg(6, 32, 3, 2),
    StageCfg(6, 64, 4, 2),
    StageCfg(6, 96, 3, 1),
    StageCfg(6, 160, 3, 2),
    StageCfg(6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280


class ConvBNLayer(nn.Layer):
    """Conv (no bias) → BatchNorm → relu6 when ``act``; keys ``_conv.*`` and ``_batch_norm.*``."""

    def __init__(self, in_c: int, out_c: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self._conv = nn.Conv2D(in_c, out_c, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                               bias_attr=False)
        self._batch_norm = nn.BatchNorm(out_c)
        self._act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self._act(self._batch_norm(self._conv(x)))


class InvertedResidualUnit(nn.Layer):
    """1x1 expand (relu6) → 3x3 depthwise (relu6) → 1x1 linear, plus the input when ``shortcut``."""

    def __init__(self, in_c: int, out_c: int, stride: int, expansion: int, shortcut: bool) -> None:
        super().__init__()
        mid_c = int(round(in_c * expansion))
        self.shortcut = shortcut
        self._expand_conv = ConvBNLayer(in_c, mid_c, 1)
        self._bottleneck_conv = ConvBNLayer(mid_c, mid_c, 3, stride=stride, groups=mid_c)
        self._linear_conv = ConvBNLayer(mid_c, out_c, 1, act=False)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self._linear_conv(self._bottleneck_conv(self._expand_conv(x)))
        return paddle.add(x, y) if self.shortcut else y


class InvertedResidualStage(nn.Layer):
    """``repeats`` units; the first changes width/resolution, the others add their input."""

    def __init__(self, in_c: int, out_c: int, cfg: StageCfg, name: str) -> None:
        super().__init__()
        self._first_block = InvertedResidualUnit(in_c, out_c, cfg.stride, cfg.expansion, shortcut=False)
        self._block_list = [
            self.add_sublayer(f"{name}_{i}", InvertedResidualUnit(out_c, out_c, 1, cfg.expansion, shortcut=True))
            for i in range(2, cfg.repeats + 1)
        ]

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self._first_block(x)
        for block in self._block_list:
            x = block(x)
        return x


class MobileNetV2Net(nn.Layer):
    def __init__(self, scale: float = 1.0, class_num: int = 1000) -> None:
        super().__init__()
        channels = int(STEM_CHANNELS * scale)
        self.conv1 = ConvBNLayer(3, channels, 3, stride=2)
        self.block_list = []
        for index, cfg in enumerate(STAGES, start=2):
            name = f"conv{index}"
            stage = InvertedResidualStage(channels, int(cfg.out * scale), cfg, name)
            self.block_list.append(self.add_sublayer(name, stage))
            channels = int(cfg.out * scale)
        last = int(LAST_CHANNELS * scale) if scale > 1.0 else LAST_CHANNELS
        self.conv9 = ConvBNLayer(channels, last, 1)
        self.pool2d_avg = nn.AdaptiveAvgPool2D(1)
        self.out = nn.Linear(last, class_num)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.conv1(x)
        for stage in self.block_list:
            x = stage(x)
        x = self.pool2d_avg(self.conv9(x))
        return self.out(paddle.flatten(x, start_axis=1, stop_axis=-1))


def _mobilenet_v2(scale: float, class_num: int) -> MobileNetV2Net:
    return MobileNetV2Net(scale=scale, class_num=class_num)


_register = register_model(FAMILY, WEIGHTS)


@_register
def MobileNetV2_x0_25(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(0.25, class_num)


@_register
def MobileNetV2_x0_5(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(0.5, class_num)


@_register
def MobileNetV2_x0_75(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(0.75, class_num)


@_register
def MobileNetV2(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(1.0, class_num)


@_register
def MobileNetV2_x1_5(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(1.5, class_num)


@_register
def MobileNetV2_x2_0(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(2.0, class_num)


@_register
def MobileNetV2_ssld(class_num: int = 1000) -> MobileNetV2Net:
    return _mobilenet_v2(1.0, class_num)
