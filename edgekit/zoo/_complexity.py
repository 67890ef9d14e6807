"""Model size and cost: trainable parameters and multiply-accumulates of one forward pass.

MACs are counted by forward post-hooks on every Conv2D and Linear during one forward pass on a
zero input (``paddle.flops`` prints a table and counts other ops too). A convolution costs
``output elements × in_channels / groups × kernel area``; a linear layer ``in × out`` per row.
Biases, batch norm, activations, pooling and element-wise ops are not counted: they are a
fraction of a percent of these networks' MACs.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import paddle
from paddle import nn


def count_parameters(model: nn.Layer) -> int:
    """Trainable parameters; BatchNorm's running mean/variance (stop_gradient buffers) excluded."""
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


def count_all_parameters(model: nn.Layer) -> int:
    """Every stored value, BatchNorm running statistics included (what paddle.summary calls total)."""
    return sum(math.prod(p.shape) for p in model.parameters()) + sum(
        math.prod(b.shape) for b in model.buffers())


def _conv_macs(layer: nn.Conv2D, output: paddle.Tensor) -> int:
    kernel_area = math.prod(layer._kernel_size)
    return math.prod(output.shape) * (layer._in_channels // layer._groups) * kernel_area


def _linear_macs(layer: nn.Linear, output: paddle.Tensor) -> int:
    return math.prod(output.shape) * layer.weight.shape[0]


def count_macs(model: nn.Layer, input_shape: Sequence[int] = (1, 3, 224, 224)) -> int:
    """Multiply-accumulates of conv and linear layers for one input of ``input_shape``."""
    total = [0]

    def on_conv(layer: Any, _inputs: Any, output: paddle.Tensor) -> None:
        total[0] += _conv_macs(layer, output)

    def on_linear(layer: Any, _inputs: Any, output: paddle.Tensor) -> None:
        total[0] += _linear_macs(layer, output)

    hooks = []
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, nn.Conv2D):
            hooks.append(layer.register_forward_post_hook(on_conv))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_post_hook(on_linear))
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.zeros(list(input_shape), dtype="float32"))
    finally:
        for hook in hooks:
            hook.remove()
        if was_training:
            model.train()
    return total[0]
