"""Import of the official checkpoint: a fake one with exactly the key names and shapes of SPEC section 11."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import timm
import torch

from efficientps_app.cli import main
from model.official import convert_official, read_official_checkpoint
from model.weights import WeightsFileError, read_metadata

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


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    state = fake_state()
    path = tmp_path_factory.mktemp("official") / "model.pth"
    torch.save({"meta": {"epoch": 160, "mmdet_version": "1.0rc0+8d5ff4e", "config": "model = dict(...)"},
                "state_dict": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.07}]}}, path)
    return path, state


def _timm_reference(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """timm's tf_efficientnet_b5 without SE, with the official activations and inplace_abn's |w| + eps scale."""
    net = timm.create_model("tf_efficientnet_b5", pretrained=False, act_layer=torch.nn.LeakyReLU).eval()
    for stage in net.blocks:
        for block in stage:
            block.se = torch.nn.Identity()
    for block in net.blocks[0]:  # official quirk: leaky ReLU after the pointwise conv of the DS blocks
        block.bn2.act = torch.nn.LeakyReLU()
    sd = {k.removeprefix("backbone."): v.clone() for k, v in state.items() if k.startswith("backbone.")}
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            sd[f"{name}.weight"] = sd[f"{name}.weight"].abs() + module.eps
    net.load_state_dict(sd, strict=False)
    return net


def test_every_tensor_lands_in_the_right_place(checkpoint):
    path, state = checkpoint
    read, dropped = read_official_checkpoint(path)
    assert set(dropped) == {"meta", "optimizer"}
    model, report = convert_official(read)
    assert report.preset == "b5-cityscapes" and report.mapped == len(state)
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        ours = model.backbone(x)["s32"]
        theirs = _timm_reference(state).forward_features(x)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    for official, module in [("neck.lateral_convs_bottom.0.conv.weight", model.fpn.lateral_convs_bottom[0].conv.weight),
                             ("rpn_head.rpn_cls.bias", model.rpn.head.rpn_cls.bias),
                             ("bbox_head.fc_reg.weight", model.roi_heads.box_head.fc_reg.weight),
                             ("mask_head.upsample.weight", model.roi_heads.mask_head.upsample.weight),
                             ("semantic_head.lateral_convs_ss.1.conv.bn.running_var",
                              model.semantic_head.lateral_convs_ss[1].conv.bn.running_var),
                             ("semantic_head.conv_logits.weight", model.semantic_head.conv_logits.weight)]:
        assert torch.equal(module, state[official]), official


def test_zip_and_num_batches_tracked_are_accepted(checkpoint, tmp_path):
    path, state = checkpoint
    archive = tmp_path / "efficientPS_cityscapes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(path, "efficientPS_cityscapes/model.pth")
    read, _ = read_official_checkpoint(archive)
    assert read.keys() == state.keys()
    tracked = dict(state) | {"neck.fpn_convs.0.bn.num_batches_tracked": torch.tensor(5)}
    assert convert_official(tracked)[1].mapped == len(state) + 1


@pytest.mark.parametrize(
    "change, message",
    [(lambda s: s.pop("bbox_head.fc_cls.weight"), "1 missing (e.g. bbox_head.fc_cls.weight)"),
     (lambda s: s.update({"neck.extra.weight": torch.zeros(1)}), "1 unexpected (e.g. neck.extra.weight)"),
     (lambda s: s.update({"rpn_head.rpn_cls.weight": torch.zeros(6, 256, 1, 1)}), "mis-shaped (e.g. rpn_head.rpn_cls.weight")],
)
def test_bad_key_sets_are_named_and_refused(checkpoint, change, message):
    state = dict(checkpoint[1])
    change(state)
    with pytest.raises(WeightsFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert_official(state)
    model, report = convert_official(state, allow_partial=True)
    assert report.missing or report.unexpected or report.mis_shaped


class _Foreign:  # pickled by reference: not allowed under weights_only
    pass


def test_foreign_pickles_and_junk_files(tmp_path, checkpoint):
    path = tmp_path / "odd.pth"
    torch.save({"meta": {"thing": _Foreign()}, "state_dict": checkpoint[1]}, path)
    with pytest.raises(WeightsFileError, match="--trust-checkpoint"):
        read_official_checkpoint(path)
    assert len(read_official_checkpoint(path, trust=True)[0]) == len(checkpoint[1])
    (tmp_path / "junk.pth").write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsFileError, match="not a PyTorch checkpoint"):
        read_official_checkpoint(tmp_path / "junk.pth")
    with pytest.raises(WeightsFileError, match="no such checkpoint"):
        read_official_checkpoint(tmp_path / "none.pth")


def test_import_command_writes_the_official_conventions(checkpoint, tmp_path, capsys):
    out = tmp_path / "efficientps_cityscapes.safetensors"
    assert main(["import-weights", str(checkpoint[0]), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "b5-cityscapes" in err and "next: efficientps segment" in err
    meta = read_metadata(out)
    assert meta["preset"] == "b5-cityscapes" and meta["input_size"] == "1024x2048"
    from efficientps_app.inference.predictor import Predictor

    predictor = Predictor(out, device="cpu")
    assert predictor.inference_size(540, 960) == (1024, 1820)  # the official input size, source aspect kept
    cfg = predictor.config
    assert (cfg.instance.score_thresh, cfg.instance.nms_thresh, cfg.instance.detections_per_image) == (0.5, 0.5, 100)
    assert (cfg.fusion.overlap_thresh, cfg.fusion.min_stuff_area) == (0.5, 2048)
    assert cfg.pixel_mean == (106.433, 116.617, 119.559) and cfg.pixel_std == (65.496, 67.6, 74.123)
    assert main(["import-weights", str(checkpoint[0]), "-o", str(out)]) == 1
