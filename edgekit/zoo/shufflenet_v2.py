"""ShuffleNetV2 (Ma et al., 2018), weight-compatible with PaddleClas.

State-dict keys and shapes equal PaddleClas's ``model_zoo/shufflenet_v2.py``: ``_conv1`` (stem,
then a 3x3/2 max pool), blocks named ``<stage>_<index>`` (``2_1`` … ``4_4``), ``_last_conv``,
``_fc``. The stage widths are PaddleClas's table per multiplier, not a formula (x0_33 has
32/64/128). A stride-1 block splits the channels in half, transforms one half and concatenates;
a stride-2 block transforms both branches; both end with a 2-group channel shuffle
(reshape → transpose → reshape, the ops PaddleClas exports).
"""

from __future__ import annotations

from typing import Optional

import paddle
from paddle import ParamAttr, nn
from paddle.nn.initializer import KaimingNormal

from edgekit.zoo._registry import PretrainedCfg, register_model

FAMILY = "ShuffleNetV2"

_URL = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/{}_pretrained.pdparams"

WEIGHTS = {
    # PaddleClas's table calls the x1_0 model "ShuffleNetV2"; its weights file says x1_0
    "ShuffleNetV2": PretrainedCfg(url=_URL.format("ShuffleNetV2_x1_0"), classifier="_fc"),
    **{name: PretrainedCfg(url=_URL.format(name), classifier="_fc")
       for name in ("ShuffleNetV2_x0_25", "ShuffleNetV2_x0_33", "ShuffleNetV2_x0_5", "ShuffleNetV2_x1_5",
                    "ShuffleNetV2_x2_0", "ShuffleNetV2_swish")},
}

STEM_CHANNELS = 24
STAGE_REPEATS = (4, 8, 4)


def channel_shuffle(x: paddle.Tensor, groups: int) -> paddle.Tensor:
    """Interleave the channels of ``groups`` groups, so the next block mixes both halves.

    The batch size comes from ``x.shape`` as in PaddleClas, so an export with a variable batch
    gets the same shape/slice/fill_constant ops feeding reshape2 that PaddleClas's export has.
    """
    batch, channels, height, width = x.shape[0:4]
    x = paddle.reshape(x, [batch, groups, channels // groups, height, width])
    x = paddle.transpose(x, [0, 2, 1, 3, 4])
    return paddle.reshape(x, [batch, channels, height, width])


def _activation(name: Optional[str]) -> nn.Layer:
    if name == "relu":
        return nn.ReLU()
    if name == "swish":
        return nn.Swish()
    return nn.Identity()


class ConvBNLayer(nn.Layer):
    """Conv (no bias, Kaiming init) → BatchNorm → optional activation; ``_conv.*``, ``_batch_norm.*``."""

    def __init__(self, in_c: int, out_c: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: Optional[str] = None) -> None:
        super().__init__()
        self._conv = nn.Conv2D(in_c, out_c, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                               weight_attr=ParamAttr(initializer=KaimingNormal()), bias_attr=False)
        self._batch_norm = nn.BatchNorm(out_c)
        self._act = _activation(act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self._act(self._batch_norm(self._conv(x)))


class InvertedResidual(nn.Layer):
    """Stride 1: keep one half of the channels, run 1x1 → 3x3 depthwise → 1x1 on the other."""

    def __init__(self, channels: int, act: str) -> None:
        super().__init__()
        half = channels // 2
        self._conv_pw = ConvBNLayer(half, half, 1, act=act)
        self._conv_dw = ConvBNLayer(half, half, 3, groups=half)
        self._conv_linear = ConvBNLayer(half, half, 1, act=act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        half = x.shape[1] // 2
        kept, transformed = paddle.split(x, num_or_sections=[half, half], axis=1)
        transformed = self._conv_linear(self._conv_dw(self._conv_pw(transformed)))
        return channel_shuffle(paddle.concat([kept, transformed], axis=1), 2)


class InvertedResidualDS(nn.Layer):
    """Stride 2 (down-sampling): both branches see the whole input; each gives half the output."""

    def __init__(self, in_c: int, out_c: int, act: str) -> None:
        super().__init__()
        half = out_c // 2
        self._conv_dw_1 = ConvBNLayer(in_c, in_c, 3, stride=2, groups=in_c)
        self._conv_linear_1 = ConvBNLayer(in_c, half, 1, act=act)
        self._conv_pw_2 = ConvBNLayer(in_c, half, 1, act=act)
        self._conv_dw_2 = ConvBNLayer(half, half, 3, stride=2, groups=half)
        self._conv_linear_2 = ConvBNLayer(half, half, 1, act=act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        left = self._conv_linear_1(self._conv_dw_1(x))
        right = self._conv_linear_2(self._conv_dw_2(self._conv_pw_2(x)))
        return channel_shuffle(paddle.concat([left, right], axis=1), 2)


class ShuffleNetV2Net(nn.Layer):
    def __init__(self, stage_channels: tuple[int, int, int], last_channels: int, act: str = "relu",
                 class_num: int = 1000) -> None:
        super().__init__()
        self._conv1 = ConvBNLayer(3, STEM_CHANNELS, 3, stride=2, act=act)
        self._max_pool = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)
        self._block_list = []
        channels = STEM_CHANNELS
        for stage, (repeats, out_c) in enumerate(zip(STAGE_REPEATS, stage_channels), start=2):
            for index in range(1, repeats + 1):
                block = InvertedResidualDS(channels, out_c, act) if index == 1 else InvertedResidual(out_c, act)
                self._block_list.append(self.add_sublayer(f"{stage}_{index}", block))
                channels = out_c
        self._last_conv = ConvBNLayer(channels, last_channels, 1, act=act)
        self._pool2d_avg = nn.AdaptiveAvgPool2D(1)
        self._fc = nn.Linear(last_channels, class_num)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self._max_pool(self._conv1(x))
        for block in self._block_list:
            x = block(x)
        x = self._pool2d_avg(self._last_conv(x))
        return self._fc(paddle.flatten(x, start_axis=1, stop_axis=-1))


def _shufflenet_v2(stage_channels: tuple[int, int, int], last_channels: int, act: str,
                   class_num: int) -> ShuffleNetV2Net:
    return ShuffleNetV2Net(stage_channels, last_channels, act=act, class_num=class_num)


_register = register_model(FAMILY, WEIGHTS)


@_register
def ShuffleNetV2_x0_25(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((24, 48, 96), 512, "relu", class_num)


@_register
def ShuffleNetV2_x0_33(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((32, 64, 128), 512, "relu", class_num)


@_register
def ShuffleNetV2_x0_5(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((48, 96, 192), 1024, "relu", class_num)


@_register
def ShuffleNetV2(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((116, 232, 464), 1024, "relu", class_num)


@_register
def ShuffleNetV2_x1_5(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((176, 352, 704), 1024, "relu", class_num)


@_register
def ShuffleNetV2_x2_0(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((244, 488, 976), 2048, "relu", class_num)


@_register
def ShuffleNetV2_swish(class_num: int = 1000) -> ShuffleNetV2Net:
    return _shufflenet_v2((116, 232, 464), 1024, "swish", class_num)
