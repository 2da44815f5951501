"""Import of the official checkpoints: a stand-in with exactly the key names and shapes of the released one."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import timm
import torch

from efficientps_app.cli import main
from model.official import convert_official, read_official_checkpoint
from model.weights import WeightsFileError, read_metadata
from tests.official_checkpoint import fake_state, save_official_checkpoint

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    state = fake_state()
    path = save_official_checkpoint(tmp_path_factory.mktemp("official") / "model.pth", state)
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


def _layouts(state: dict[str, torch.Tensor]) -> dict[str, object]:
    wrapped = {f"module.{k}": v for k, v in state.items()}
    return {
        "bare state dict": state,
        "mmcv (meta, state_dict, optimizer)": {"meta": {"epoch": 1}, "state_dict": state, "optimizer": {}},
        "model entry": {"model": state, "epoch": 3},
        "model.state_dict nesting": {"model": {"state_dict": state, "step": 9}, "meta": {}},
        "DataParallel prefix": {"state_dict": wrapped, "meta": {}},
        "prefix twice, bare": {f"module.{k}": v for k, v in wrapped.items()},
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip pth", "legacy pth"])
@pytest.mark.parametrize("layout", list(_layouts({})))
def test_every_checkpoint_layout_gives_the_same_state(checkpoint, tmp_path, layout, legacy):
    state = dict(list(checkpoint[1].items())[:40])  # the layout is what is tested: a slice of the keys is enough
    path = tmp_path / "model.pth"
    torch.save(_layouts(state)[layout], path, _use_new_zipfile_serialization=not legacy)
    read, dropped = read_official_checkpoint(path)
    assert read.keys() == state.keys() and all(torch.equal(read[k], state[k]) for k in state)
    assert "state_dict" not in dropped and "model" not in dropped


@pytest.mark.parametrize(
    "content, message",
    [({"optimizer": {"state": {}}, "epoch": 3}, "no state dict of tensors (found top-level entries 'optimizer', 'epoch'"),
     ({"state_dict": {"neck.a": torch.zeros(1), "neck.b": [1, 2]}}, "state dict entry state_dict.'neck.b' is not a tensor"),
     ([torch.zeros(1)], "found top-level entries list")],
)
def test_layouts_without_a_state_dict_are_named(tmp_path, content, message):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(WeightsFileError, match=message.replace("(", r"\(").replace(".", r"\.")):
        read_official_checkpoint(path)


def test_a_checkpoint_of_another_network_is_named():
    other = {"features.0.weight": torch.zeros(8, 3, 3, 3), "fc.weight": torch.zeros(10, 8)}
    with pytest.raises(WeightsFileError, match=r"not an EfficientPS checkpoint \(2 tensors under fc, features\)"):
        convert_official(other)


@pytest.mark.slow  # converts and loads the full-size stand-in
def test_the_kitti_release_imports_with_its_own_inference_defaults(checkpoint, tmp_path, capsys):
    from efficientps_app.inference.predictor import Predictor
    from model.fusion import stuff_area_threshold

    out = tmp_path / "kitti.safetensors"
    assert main(["import-weights", str(checkpoint[0]), "--release", "kitti", "-o", str(out)]) == 0
    assert "kitti: inference at 384x1280" in capsys.readouterr().err
    meta = read_metadata(out)
    assert (meta["preset"], meta["input_size"], meta["release"]) == ("b5-cityscapes", "384x1280", "kitti")
    predictor = Predictor(out, device="cpu")
    assert predictor.inference_size(375, 1242) == (384, 1272)  # a KITTI frame, scaled as mmdet's keep_ratio does
    cfg = predictor.config
    assert [c.name for c in cfg.classes][:3] == ["road", "sidewalk", "building"] and cfg.num_classes == 19
    assert (cfg.instance.score_thresh, cfg.fusion.overlap_thresh, cfg.fusion.min_stuff_area) == (0.5, 0.5, 2048)
    assert stuff_area_threshold(cfg.fusion, 384, 1280) == 2048  # the official area holds at KITTI's input size
    assert main(["import-weights", str(checkpoint[0]), "--release", "mapillary", "-o", str(out)]) == 1
