"""Modified EfficientNet backbone (SPEC section 2), built with timm's EfficientNet builder.

- timm ``tf_efficientnet_b*`` architecture (TF "SAME" padding, BN eps 1e-3) with squeeze-excitation
  removed, classifier and pooling dropped.
- Every BN + activation is our norm layer with leaky ReLU(0.01); the MBConv projection stays linear,
  but the stage-0 depthwise-separable blocks keep the activation after their pointwise conv (the
  official code's quirk).
- Taps at strides 4, 8, 16 (outputs of stages 1, 2, 4) and 32 (the 1x1 head conv, 2048 ch for B5).

Parameter names equal timm's and the official checkpoint's (``conv_stem``, ``bn1``, ``blocks.i.j.*``,
``conv_head``, ``bn2``), so ImageNet or official weights load by name.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet
from torch import nn

from model.config import BackboneConfig, NormKind
from model.norm import norm_factory

# (width multiplier, depth multiplier) per variant, as in timm / the EfficientNet paper.
_EFFNET_SCALING: dict[str, tuple[float, float]] = {
    "tiny": (0.25, 0.34),
    "b0": (1.0, 1.0),
    "b1": (1.0, 1.1),
    "b2": (1.1, 1.2),
    "b3": (1.2, 1.4),
    "b4": (1.4, 1.8),
    "b5": (1.6, 2.2),
    "b6": (1.8, 2.6),
    "b7": (2.0, 3.1),
}

# timm's EfficientNet-B0 stage strings with the "_se0.25" suffix stripped (no squeeze-excitation).
_ARCH_DEF = [
    ["ds_r1_k3_s1_e1_c16"],
    ["ir_r2_k3_s2_e6_c24"],
    ["ir_r2_k5_s2_e6_c40"],
    ["ir_r3_k3_s2_e6_c80"],
    ["ir_r3_k5_s1_e6_c112"],
    ["ir_r4_k5_s2_e6_c192"],
    ["ir_r1_k3_s1_e6_c320"],
]
_TAPPED_STAGES = {"s4": 1, "s8": 2, "s16": 4}
BACKBONE_EPS = 1e-3  # TensorFlow's BN epsilon, kept by the tf_ ports and the official code


class Conv2dStaticSame(nn.Conv2d):
    """Stride-2 conv with TensorFlow "SAME" padding fixed at init.

    TF SAME pads a stride-2 conv asymmetrically, ``k - 2`` pixels in total with the extra one after,
    whenever the input size is even. EfficientPS pads every image to a multiple of 32, so every
    stride-2 input is even and the padding is a constant: no shape arithmetic in the export graph.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
            conv.groups, conv.bias is not None,
        )
        self.load_state_dict(conv.state_dict())
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        th, tw = max(kh - sh, 0), max(kw - sw, 0)
        self.same_pad = (tw // 2, tw - tw // 2, th // 2, th - th // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same_pad))


class EfficientNetBackbone(nn.Module):
    """EfficientNet feature extractor returning ``{"s4", "s8", "s16", "s32"}`` feature maps.

    Attributes:
        out_channels: Channels of each returned map, e.g. ``{"s4": 40, "s8": 64, "s16": 176,
            "s32": 2048}`` for B5.
    """

    strides = {"s4": 4, "s8": 8, "s16": 16, "s32": 32}

    def __init__(self, cfg: BackboneConfig, norm: NormKind = "bn") -> None:
        super().__init__()
        if cfg.variant not in _EFFNET_SCALING:
            raise ValueError(f"unknown backbone variant {cfg.variant!r}; expected one of {sorted(_EFFNET_SCALING)}")
        width, depth = _EFFNET_SCALING[cfg.variant]
        round_chs = partial(round_channels, multiplier=width, divisor=8)
        block_args = decode_arch_def(_ARCH_DEF, depth)
        for block in block_args[0]:
            block["pw_act"] = True  # stage-0 quirk: activation after the DS block's pointwise conv
        net = EfficientNet(
            block_args=block_args,
            num_classes=0,
            num_features=cfg.head_channels or round_chs(1280),
            stem_size=32,
            round_chs_fn=round_chs,
            pad_type="same",
            act_layer=nn.LeakyReLU,
            norm_layer=norm_factory(norm, BACKBONE_EPS),
        )
        self.conv_stem, self.bn1, self.blocks = net.conv_stem, net.bn1, net.blocks
        self.conv_head, self.bn2 = net.conv_head, net.bn2
        _make_padding_static(self)
        stage_channels = [stage[-1].bn2.num_features if i == 0 else stage[-1].bn3.num_features
                          for i, stage in enumerate(self.blocks)]
        self.out_channels = {k: stage_channels[i] for k, i in _TAPPED_STAGES.items()}
        self.out_channels["s32"] = net.num_features

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args: x: (B, 3, H, W) normalised images, H and W multiples of 32.

        Returns: feature maps keyed by stride name, (B, out_channels[k], H/s, W/s).
        """
        x = self.bn1(self.conv_stem(x))
        feats: dict[str, torch.Tensor] = {}
        taps = {i: k for k, i in _TAPPED_STAGES.items()}
        for i, stage in enumerate(self.blocks):
            x = stage(x)
            if i in taps:
                feats[taps[i]] = x
        feats["s32"] = self.bn2(self.conv_head(x))
        return feats


def _make_padding_static(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, Conv2dSame):
            setattr(module, name, Conv2dStaticSame(child))
        else:
            _make_padding_static(child)
