"""Conv building blocks shared by the FPN and the heads.

Attribute names (``conv``, ``bn``, ``depthwise_conv``, ``pointwise_conv``) equal the official
checkpoint's, so its tensors map onto ours by name.
"""

from __future__ import annotations

import torch
from torch import nn

from model.norm import NormFactory


class ConvNormAct(nn.Module):
    """Conv (no bias) -> norm + leaky ReLU: mmcv's ``ConvModule`` with iABN."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        norm: NormFactory,
        dilation: tuple[int, int] = (1, 1),
        groups: int = 1,
    ) -> None:
        super().__init__()
        padding = (dilation[0] * (kernel_size // 2), dilation[1] * (kernel_size // 2))
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, groups=groups, bias=False
        )
        self.bn = norm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class SeparableConv(nn.Module):
    """Depthwise 3x3 (dilation d) + norm/act, then pointwise 1x1 + norm/act (SPEC "SepConv")."""

    def __init__(
        self, in_channels: int, out_channels: int, norm: NormFactory, dilation: tuple[int, int] = (1, 1)
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvNormAct(in_channels, in_channels, 3, norm, dilation=dilation, groups=in_channels)
        self.pointwise_conv = ConvNormAct(in_channels, out_channels, 1, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def init_conv_norm(module: nn.Module) -> None:
    """mmcv ConvModule init: Kaiming-normal conv weights (fan_out), norm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu", a=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif hasattr(m, "running_mean") and getattr(m, "weight", None) is not None:  # BN or InPlaceABN
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
