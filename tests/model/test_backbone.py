"""Backbone and FPN contracts: channels, strides, official parameter names, activation placement."""

from __future__ import annotations

import pytest
import timm
import torch
from timm.layers import Conv2dSame

from model import PRESETS
from model.backbone import Conv2dStaticSame, EfficientNetBackbone
from model.config import BackboneConfig, FPNConfig
from model.fpn import TwoWayFPN
from model.norm import norm_factory


@pytest.mark.parametrize(
    ("variant", "channels"),
    [("tiny", {"s4": 8, "s8": 16, "s16": 32, "s32": 320}), ("b0", {"s4": 24, "s8": 40, "s16": 112, "s32": 1280}),
     ("b5", {"s4": 40, "s8": 64, "s16": 176, "s32": 2048})],
)
def test_feature_channels_and_strides(variant: str, channels: dict[str, int]):
    net = EfficientNetBackbone(BackboneConfig(variant)).eval()
    assert net.out_channels == channels
    with torch.no_grad():
        feats = net(torch.rand(1, 3, 64, 128))
    for key, stride in net.strides.items():
        assert feats[key].shape == (1, channels[key], 64 // stride, 128 // stride)


def test_b5_parameter_names_equal_timm_tf_efficientnet_b5_without_se_and_classifier():
    ours = EfficientNetBackbone(BackboneConfig("b5"))
    theirs = timm.create_model("tf_efficientnet_b5", pretrained=False)
    expected = {k: v.shape for k, v in theirs.state_dict().items() if ".se." not in k and not k.startswith("classifier")}
    assert {k: v.shape for k, v in ours.state_dict().items()} == expected
    assert sum(p.numel() for p in ours.parameters()) == 23_148_912  # SPEC 9.3


def test_activation_placement_and_eps_follow_the_official_code():
    net = EfficientNetBackbone(BackboneConfig("b0"))
    ds = net.blocks[0][0]
    assert ds.bn1.apply_act and ds.bn2.apply_act  # stage-0 quirk: leaky after the pointwise conv
    ir = net.blocks[1][0]
    assert ir.bn1.apply_act and ir.bn2.apply_act and not ir.bn3.apply_act  # linear bottleneck
    assert net.bn1.eps == net.bn2.eps == ir.bn3.eps == 1e-3
    assert isinstance(ir.se, torch.nn.Identity)
    assert isinstance(ir.conv_dw, Conv2dStaticSame)


@pytest.mark.parametrize("kernel", [3, 5])
def test_static_same_padding_equals_tf_same_on_even_inputs(kernel: int):
    dynamic = Conv2dSame(4, 6, kernel, stride=2)
    static = Conv2dStaticSame(dynamic)
    x = torch.rand(2, 4, 32, 48)
    assert torch.allclose(static(x), dynamic(x), atol=1e-6)


@pytest.mark.parametrize("separable", [False, True])
def test_fpn_outputs_channels_at_each_stride(separable: bool):
    backbone = EfficientNetBackbone(BackboneConfig("tiny")).eval()
    fpn = TwoWayFPN(backbone.out_channels, FPNConfig(channels=16, separable_output=separable), norm_factory("bn", 1e-5))
    assert [m.conv.in_channels for m in fpn.lateral_convs_top] == [8, 16, 32, 320]
    assert [m.conv.in_channels for m in fpn.lateral_convs_bottom] == [320, 32, 16, 8]  # official order
    with torch.no_grad():
        out = fpn(backbone(torch.rand(1, 3, 64, 96)))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "s4": (1, 16, 16, 24), "s8": (1, 16, 8, 12), "s16": (1, 16, 4, 6), "s32": (1, 16, 2, 3)}


def test_official_fpn_and_head_key_layout():
    from model import build_efficientps

    keys = build_efficientps(PRESETS["b0"]).state_dict()
    for key, shape in {
        "fpn.lateral_convs_top.0.conv.weight": (256, 24, 1, 1),
        "fpn.lateral_convs_bottom.0.conv.weight": (256, 1280, 1, 1),
        "fpn.fpn_convs.0.conv.weight": (256, 256, 3, 3),
        "semantic_head.lateral_convs_ss.0.conv.conv.weight": (128, 1280, 1, 1),
        "semantic_head.lateral_convs_ls.0.convs.0.pointwise_conv.conv.weight": (128, 256, 1, 1),
        "semantic_head.aligning_convs.1.convs.1.depthwise_conv.conv.weight": (128, 1, 3, 3),
        "semantic_head.conv_logits.weight": (19, 512, 1, 1),
        "rpn.head.rpn_conv.weight": (256, 256, 3, 3),
        "rpn.head.rpn_reg.weight": (12, 256, 1, 1),
        "roi_heads.box_head.shared_fcs.0.weight": (1024, 12544),
        "roi_heads.box_head.fc_reg.weight": (36, 1024),
        "roi_heads.mask_head.convs.3.pointwise_conv.conv.weight": (256, 256, 1, 1),
        "roi_heads.mask_head.upsample.weight": (256, 256, 2, 2),
        "roi_heads.mask_head.conv_logits.weight": (9, 256, 1, 1),
    }.items():
        assert tuple(keys[key].shape) == shape, key
