"""Semantic head (SPEC section 4): LSFE on P4/P8, DPC on P16/P32, mismatch correction between scales.

Aggregation and concat order follow the official code, so ``conv_logits`` weights map one to one:
``concat[L4, up(L8), up(D16), up(D32)]`` -> 1x1 conv -> bilinear x4 to the (padded) input size.
The loss is per-pixel cross entropy (ignore 255) averaged over the hardest 25 % of all pixels of the
batch, ignored pixels included in the count.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.classes import VOID_ID
from model.config import SemanticHeadConfig
from model.layers import ConvNormAct, SeparableConv, init_conv_norm
from model.norm import NormFactory


class LSFE(nn.Module):
    """Large-scale feature extractor: two separable 3x3 convs (in -> c -> c)."""

    def __init__(self, in_channels: int, channels: int, norm: NormFactory) -> None:
        super().__init__()
        self.convs = nn.ModuleList([SeparableConv(in_channels, channels, norm), SeparableConv(channels, channels, norm)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs[1](self.convs[0](x))


class DPC(nn.Module):
    """Dense prediction cell: five dilated separable convs, concatenated and projected to ``channels``.

    Branches: a = conv(x, d0); b = conv(a, d1); c = conv(a, d2); e = conv(a, d3); f = conv(e, d4).
    """

    def __init__(
        self, in_channels: int, channels: int, dilations: tuple[tuple[int, int], ...], norm: NormFactory
    ) -> None:
        super().__init__()
        if len(dilations) != 5:
            raise ValueError("DPC needs five (h, w) dilations")
        self.convs = nn.ModuleList(SeparableConv(in_channels, in_channels, norm, d) for d in dilations)
        self.conv = ConvNormAct(5 * in_channels, channels, 1, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.convs[0](x)
        b = self.convs[1](a)
        c = self.convs[2](a)
        e = self.convs[3](a)
        f = self.convs[4](e)
        return self.conv(torch.cat([a, b, c, e, f], dim=1))


class MismatchCorrection(nn.Module):
    """Two separable 3x3 convs, then bilinear x2 upsampling (align_corners=False)."""

    def __init__(self, channels: int, norm: NormFactory) -> None:
        super().__init__()
        self.convs = nn.ModuleList([SeparableConv(channels, channels, norm), SeparableConv(channels, channels, norm)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convs[1](self.convs[0](x))
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class SemanticHead(nn.Module):
    """Semantic logits at the padded input resolution from FPN maps ``s4``..``s32``.

    Submodule indices follow the official checkpoint: ``lateral_convs_ss`` (DPC; 0 = P32, 1 = P16),
    ``lateral_convs_ls`` (LSFE; 0 = P8, 1 = P4), ``aligning_convs`` (MC; 0 = 16->8, 1 = 8->4).
    """

    def __init__(self, in_channels: int, num_classes: int, cfg: SemanticHeadConfig, norm: NormFactory) -> None:
        super().__init__()
        c = cfg.channels
        self.ohem_fraction = cfg.ohem_fraction
        self.lateral_convs_ss = nn.ModuleList(DPC(in_channels, c, cfg.dpc_dilations, norm) for _ in range(2))
        self.lateral_convs_ls = nn.ModuleList(LSFE(in_channels, c, norm) for _ in range(2))
        self.aligning_convs = nn.ModuleList(MismatchCorrection(c, norm) for _ in range(2))
        self.conv_logits = nn.Conv2d(4 * c, num_classes, 1)
        init_conv_norm(self)

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Returns: (B, num_classes, 4 * H4, 4 * W4) logits, H4 x W4 being the size of ``feats["s4"]``."""
        p4, p8 = feats["s4"], feats["s8"]
        d32 = self.lateral_convs_ss[0](feats["s32"])
        d16 = self.lateral_convs_ss[1](feats["s16"])
        x = self.aligning_convs[0](d16 + _resize(d32, d16))
        l8 = self.lateral_convs_ls[0](p8) + _resize(x, p8)
        x = self.aligning_convs[1](l8)
        l4 = self.lateral_convs_ls[1](p4) + _resize(x, p4)
        fused = torch.cat([l4, _resize(l8, l4), _resize(d16, l4), _resize(d32, l4)], dim=1)
        logits = self.conv_logits(fused)
        return F.interpolate(logits, scale_factor=4.0, mode="bilinear", align_corners=False)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """OHEM cross entropy.

        Args:
            logits: (B, C, H, W) semantic logits.
            target: (B, H, W) int64 class ids, 255 = void.

        Returns: scalar, the mean of the top ``ceil(ohem_fraction * B*H*W)`` per-pixel losses.
        """
        return ohem_cross_entropy(logits, target, self.ohem_fraction)


def ohem_cross_entropy(logits: torch.Tensor, target: torch.Tensor, fraction: float) -> torch.Tensor:
    """Cross entropy (ignore 255) averaged over the hardest ``fraction`` of all pixels of the batch.

    Ignored pixels have loss 0 but still count in the pixel total, as in the official code.
    """
    per_pixel = F.cross_entropy(logits.float(), target, ignore_index=VOID_ID, reduction="none").flatten()
    k = max(1, math.ceil(fraction * per_pixel.numel()))
    return per_pixel.topk(k, sorted=False).values.mean()
