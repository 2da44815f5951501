"""A stand-in for the authors' released checkpoint: exactly the key names and shapes of its state dict
(written out from the official module definitions), random values. Shared by the importer and download tests."""

from __future__ import annotations

from pathlib import Path

import timm
import torch

BN = ("weight", "bias", "running_mean", "running_var")


def _conv_bn(prefix: str, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.conv.weight": shape, **{f"{prefix}.bn.{b}": (shape[0],) for b in BN}}


def _separable(prefix: str, cin: int, cout: int) -> dict[str, tuple[int, ...]]:
    return {**_conv_bn(f"{prefix}.depthwise_conv", (cin, 1, 3, 3)), **_conv_bn(f"{prefix}.pointwise_conv", (cout, cin, 1, 1))}


def official_head_shapes() -> dict[str, tuple[int, ...]]:
    """Every non-backbone key of the released checkpoint, written out from SPEC section 11."""
    shapes: dict[str, tuple[int, ...]] = {}
    channels = [40, 64, 176, 2048]
    for i in range(4):
        shapes |= _conv_bn(f"neck.lateral_convs_top.{i}", (256, channels[i], 1, 1))
        shapes |= _conv_bn(f"neck.lateral_convs_bottom.{i}", (256, channels[3 - i], 1, 1))
        shapes |= _conv_bn(f"neck.fpn_convs.{i}", (256, 256, 3, 3))
    shapes |= {"rpn_head.rpn_conv.weight": (256, 256, 3, 3), "rpn_head.rpn_conv.bias": (256,),
               "rpn_head.rpn_cls.weight": (3, 256, 1, 1), "rpn_head.rpn_cls.bias": (3,),
               "rpn_head.rpn_reg.weight": (12, 256, 1, 1), "rpn_head.rpn_reg.bias": (12,)}
    shapes |= {"bbox_head.shared_fcs.0.weight": (1024, 12544), "bbox_head.shared_fcs.0.bias": (1024,),
               "bbox_head.shared_fcs.1.weight": (1024, 1024), "bbox_head.shared_fcs.1.bias": (1024,),
               "bbox_head.fc_cls.weight": (9, 1024), "bbox_head.fc_cls.bias": (9,),
               "bbox_head.fc_reg.weight": (36, 1024), "bbox_head.fc_reg.bias": (36,)}
    for i in range(4):
        shapes |= _separable(f"mask_head.convs.{i}", 256, 256)
    shapes |= {"mask_head.upsample.weight": (256, 256, 2, 2), "mask_head.upsample.bias": (256,),
               "mask_head.conv_logits.weight": (9, 256, 1, 1), "mask_head.conv_logits.bias": (9,)}
    for i in range(2):
        for j in range(5):
            shapes |= _separable(f"semantic_head.lateral_convs_ss.{i}.convs.{j}", 256, 256)
        shapes |= _conv_bn(f"semantic_head.lateral_convs_ss.{i}.conv", (128, 1280, 1, 1))
        shapes |= _separable(f"semantic_head.lateral_convs_ls.{i}.convs.0", 256, 128)
        shapes |= _separable(f"semantic_head.lateral_convs_ls.{i}.convs.1", 128, 128)
        for j in range(2):
            shapes |= _separable(f"semantic_head.aligning_convs.{i}.convs.{j}", 128, 128)
    shapes |= {"semantic_head.conv_logits.weight": (19, 512, 1, 1), "semantic_head.conv_logits.bias": (19,)}
    return shapes


def official_backbone_shapes() -> dict[str, tuple[int, ...]]:
    """timm's tf_efficientnet_b5 names without SE and classifier (SPEC: the official backbone's names)."""
    net = timm.create_model("tf_efficientnet_b5", pretrained=False)
    return {f"backbone.{k}": tuple(v.shape) for k, v in net.state_dict().items()
            if ".se." not in k and not k.startswith("classifier") and not k.endswith("num_batches_tracked")}


def fake_state(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in {**official_backbone_shapes(), **official_head_shapes()}.items():
        if key.endswith(("running_var", "bn.weight")) or ".bn" in key and key.endswith("weight"):
            state[key] = torch.rand(shape, generator=gen) * 0.5 + 0.75  # positive scales and variances
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.05
    return state


def save_official_checkpoint(path: Path, state: dict[str, torch.Tensor], half: bool = False, **extra: object) -> Path:
    """Write ``state`` as mmcv's ``save_checkpoint`` does (``meta``, ``state_dict``, ``optimizer``); ``half``
    stores fp16 tensors (the importer casts them back), which halves the file for download tests."""
    if half:
        state = {k: v.half() for k, v in state.items()}
    torch.save({"meta": {"epoch": 160, "mmdet_version": "1.0rc0+8d5ff4e", "config": "model = dict(...)"},
                "state_dict": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.07}]}, **extra}, path)
    return path
