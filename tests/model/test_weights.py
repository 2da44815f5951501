"""Weights files: round trip, and one-line errors for corrupt, truncated, foreign and mismatched files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from model import PRESETS, build_efficientps
from model.weights import WeightsFileError, load_config, load_model, load_weights_into, read_metadata, save_model


@pytest.fixture
def saved(tiny_model, tmp_path: Path) -> Path:
    for m in tiny_model.modules():  # make the buffers non-trivial so that the round trip is meaningful
        if hasattr(m, "running_var"):
            m.running_var.uniform_(0.5, 1.5)
    return save_model(tiny_model, tmp_path / "tiny.safetensors")


def test_round_trip_restores_every_tensor_config_and_output(tiny_model, saved: Path):
    loaded = load_model(saved)
    assert loaded.cfg == tiny_model.cfg and not loaded.training
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(tiny_model.eval().forward_raw(x).sem_logits, loaded.forward_raw(x).sem_logits)
    meta = read_metadata(saved)
    assert meta["preset"] == "tiny" and meta["format"] == "efficientps"
    assert [c.name for c in load_config(saved).classes][:2] == ["road", "sidewalk"]
    assert list(saved.parent.iterdir()) == [saved]  # atomic write leaves no temporary file


def test_half_precision_file_loads_as_float32(tiny_model, tmp_path: Path):
    path = save_model(tiny_model, tmp_path / "half.safetensors", half=True)
    full = save_model(tiny_model, tmp_path / "full.safetensors")
    assert path.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_model(path)
    weight = loaded.semantic_head.conv_logits.weight
    assert weight.dtype == torch.float32
    assert torch.allclose(weight, tiny_model.semantic_head.conv_logits.weight, atol=1e-3)


def test_norm_layer_kind_on_load(saved: Path, tmp_path: Path):
    from model.norm import inplace_abn_available

    if not inplace_abn_available():
        pytest.skip("inplace_abn is not installed (optional [iabn] extra)")
    model = load_model(saved, norm="iabn")
    assert any(type(m).__name__ == "InPlaceABN" for m in model.modules())
    trained_with_iabn = save_model(model, tmp_path / "iabn.safetensors")
    assert load_config(trained_with_iabn).norm == "iabn"
    assert not any(type(m).__name__ == "InPlaceABN" for m in load_model(trained_with_iabn).modules())
    assert any(type(m).__name__ == "InPlaceABN" for m in load_model(trained_with_iabn, norm=None).modules())


@pytest.mark.parametrize("content", [b"", b"not a weights file at all", bytes(range(256)) * 40])
def test_garbage_is_a_one_line_error(tmp_path: Path, content: bytes):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match="not a readable .safetensors") as err:
        load_model(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_truncated_file_is_an_error(saved: Path):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsFileError) as err:
        load_model(saved)
    assert "\n" not in str(err.value)


def test_safetensors_without_our_header_is_refused(tmp_path: Path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(WeightsFileError, match="not an EfficientPS weights file"):
        load_model(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(WeightsFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


def test_weights_of_another_preset_do_not_load_into_a_model(saved: Path):
    other = build_efficientps(dataclasses.replace(PRESETS["tiny"], fpn=dataclasses.replace(PRESETS["tiny"].fpn, channels=48)))
    with pytest.raises(WeightsFileError, match="mis-shaped") as err:
        load_weights_into(other, saved)
    assert "(tiny)" in str(err.value)
    with pytest.raises(WeightsFileError, match="holds preset 'tiny', not 'b0'"):
        load_model(saved, preset="b0")


def test_missing_and_unexpected_tensors_are_named(tiny_model, tmp_path: Path):
    path = save_model(tiny_model, tmp_path / "t.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys() if k != "semantic_head.conv_logits.bias"}
    tensors["extra.weight"] = torch.zeros(1)
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(WeightsFileError, match=r"1 missing \(e.g. semantic_head.conv_logits.bias\); 1 unexpected"):
        load_model(path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_imagenet_backbone_weights_load_by_name(tmp_path: Path, suffix: str):
    import timm
    from safetensors.torch import save_file as save_st

    from model.backbone import EfficientNetBackbone
    from model.config import BackboneConfig
    from model.weights import load_backbone_weights

    imagenet = timm.create_model("tf_efficientnet_b0", pretrained=False).state_dict()  # with SE and classifier
    path = tmp_path / f"tf_efficientnet_b0{suffix}"
    if suffix == ".pth":
        torch.save(imagenet, path)
    else:
        save_st({k: v.contiguous() for k, v in imagenet.items()}, str(path))
    backbone = EfficientNetBackbone(BackboneConfig("b0"))
    assert load_backbone_weights(backbone, path) > 200
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, imagenet[key]), key
    with pytest.raises(WeightsFileError, match="mis-shaped|missing"):
        load_backbone_weights(EfficientNetBackbone(BackboneConfig("b1")), path)


def test_sizes_in_metadata_are_read_and_written_in_one_place(tiny_model, tmp_path):
    """'HxW' metadata: one writer, one reader; a damaged value is a clear error (was a ValueError)."""
    from model.weights import parse_size, preferred_size, size_text

    assert size_text((1024, 2048)) == "1024x2048" and parse_size("1024x2048", "x") == (1024, 2048)
    assert parse_size(None, "x") is None
    for bad in ("1024*2048", "x2048", "0x5", "big"):
        with pytest.raises(WeightsFileError, match="is not a size HxW"):
            parse_size(bad, "w.safetensors: input_size")
    good = save_model(tiny_model, tmp_path / "a.safetensors", extra={"input_size": "128x256"})
    assert preferred_size(good) == (128, 256)
    bad = save_model(tiny_model, tmp_path / "b.safetensors", extra={"input_size": "128 by 256"})
    with pytest.raises(WeightsFileError, match="b.safetensors: input_size: '128 by 256' is not a size HxW"):
        preferred_size(bad)


def test_init_from_another_class_list_loads_what_fits_and_names_the_rest(saved: Path):
    from model.classes import classes_from_categories
    from model.weights import load_fitting_weights

    classes = classes_from_categories([{"id": i, "name": f"s{i}", "isthing": 0} for i in range(5)]
                                      + [{"id": 10 + i, "name": f"t{i}", "isthing": 1} for i in range(3)])
    torch.manual_seed(1)
    model = build_efficientps(dataclasses.replace(PRESETS["tiny"], classes=classes))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_fitting_weights(model, saved)
    source = load_model(saved).state_dict()
    class_sized = {"semantic_head.conv_logits.weight", "semantic_head.conv_logits.bias",
                   "roi_heads.box_head.fc_cls.weight", "roi_heads.box_head.fc_cls.bias",
                   "roi_heads.box_head.fc_reg.weight", "roi_heads.box_head.fc_reg.bias",
                   "roi_heads.mask_head.conv_logits.weight", "roi_heads.mask_head.conv_logits.bias"}
    assert set(report.mismatched) == class_sized and not report.missing and not report.unexpected
    assert report.mismatched["semantic_head.conv_logits.bias"] == ((19,), (8,))
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key] if key in class_sized else source[key]), key
    line = report.describe()
    assert line.startswith(f"loaded {len(before) - 8} of {len(before)} tensors; kept as initialised: ")
    assert "semantic_head.conv_logits.bias [8] (file [19])" in line
