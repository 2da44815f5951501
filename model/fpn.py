"""2-way FPN (SPEC section 3): a top-down and a bottom-up path, each with its own 1x1 laterals.

Official behaviour: laterals are conv + iABN (already activated), both paths resample with nearest
interpolation (no strided conv, no pooling), and each level's sum of the two paths goes through a 3x3
output conv: plain in the official code, depthwise-separable in the paper (``separable_output``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.config import FPNConfig
from model.layers import ConvNormAct, SeparableConv, init_conv_norm
from model.norm import NormFactory

LEVELS = ("s4", "s8", "s16", "s32")


class TwoWayFPN(nn.Module):
    """Fuse backbone taps into four maps of ``cfg.channels`` channels at strides 4, 8, 16, 32.

    Module indices follow the official checkpoint: ``lateral_convs_top.i`` and ``fpn_convs.i`` run fine
    to coarse (i=0 is stride 4), ``lateral_convs_bottom.i`` coarse to fine (i=0 is stride 32).
    """

    def __init__(self, in_channels: dict[str, int], cfg: FPNConfig, norm: NormFactory) -> None:
        super().__init__()
        c = cfg.channels
        chans = [in_channels[k] for k in LEVELS]
        self.lateral_convs_top = nn.ModuleList(ConvNormAct(ci, c, 1, norm) for ci in chans)
        self.lateral_convs_bottom = nn.ModuleList(ConvNormAct(ci, c, 1, norm) for ci in reversed(chans))
        if cfg.separable_output:
            self.fpn_convs = nn.ModuleList(SeparableConv(c, c, norm) for _ in LEVELS)
        else:
            self.fpn_convs = nn.ModuleList(ConvNormAct(c, c, 3, norm) for _ in LEVELS)
        self.out_channels = {k: c for k in LEVELS}
        init_conv_norm(self)
        for m in self.modules():  # official (mmdet FPN.init_weights): Xavier-uniform for every neck conv
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Args: feats: backbone maps keyed "s4".."s32". Returns: FPN maps keyed the same way."""
        xs = [feats[k] for k in LEVELS]
        top = [lat(x) for lat, x in zip(self.lateral_convs_top, xs)]
        bottom = [lat(x) for lat, x in zip(self.lateral_convs_bottom, reversed(xs))][::-1]
        for i in range(len(LEVELS) - 2, -1, -1):  # top-down: coarse to fine
            top[i] = top[i] + F.interpolate(top[i + 1], size=top[i].shape[-2:], mode="nearest")
        for i in range(1, len(LEVELS)):  # bottom-up: fine to coarse, nearest subsampling
            bottom[i] = bottom[i] + F.interpolate(bottom[i - 1], size=bottom[i].shape[-2:], mode="nearest")
        return {k: conv(t + b) for k, conv, t, b in zip(LEVELS, self.fpn_convs, top, bottom)}
