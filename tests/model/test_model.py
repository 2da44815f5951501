"""The network on the tiny preset: interfaces, losses, sizes; parameter counts of the B5 presets."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from model import PRESETS, PanopticResult, RawOutputs, build_efficientps
from tests.conftest import make_target
from train.losses import LOSS_KEYS, total_loss


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("preset", "millions"), [("b5-cityscapes", 42.99), ("b5-paper", 40.90)])
def test_b5_parameter_counts_match_the_spec(preset: str, millions: float):
    assert abs(n_params(build_efficientps(PRESETS[preset])) / 1e6 - millions) < 0.05


def test_tiny_is_small():
    assert n_params(build_efficientps(PRESETS["tiny"])) < 2_000_000


def test_training_returns_the_six_finite_losses_and_backpropagates(tiny_model):
    tiny_model.train()
    images = torch.rand(2, 3, 128, 256)
    targets = [make_target(128, 256, [(20, 30, 70, 60), (120, 40, 200, 100)]), make_target(128, 256, [(5, 70, 40, 120)])]
    losses = tiny_model(images, targets)
    assert tuple(losses) == LOSS_KEYS
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    assert losses["loss_mask"] > 0 and losses["loss_roi_box"] > 0
    total_loss(losses).backward()
    grads = [p.grad for p in tiny_model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_image_without_things_gives_zero_box_and_mask_losses(tiny_model):
    tiny_model.train()
    losses = tiny_model(torch.rand(1, 3, 96, 160), [make_target(96, 160, [])])
    assert losses["loss_rpn_box"] == 0 and losses["loss_roi_box"] == 0 and losses["loss_mask"] == 0
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_semantic"] > 0 and losses["loss_roi_cls"] > 0
    total_loss(losses).backward()


def test_training_without_targets_is_an_error(tiny_model):
    tiny_model.train()
    with pytest.raises(ValueError, match="targets"):
        tiny_model(torch.rand(1, 3, 64, 64))


def test_eval_on_an_odd_size_returns_maps_of_that_size(tiny_model):
    tiny_model.eval()
    with torch.no_grad():
        results = tiny_model(torch.rand(2, 3, 250, 333))
    assert len(results) == 2 and all(isinstance(r, PanopticResult) for r in results)
    for r in results:
        assert r.panoptic.shape == (250, 333) and r.panoptic.dtype == torch.int32
        assert r.semantic.shape == (250, 333)
        ids = set(r.panoptic.unique().tolist()) - {0}
        assert ids == {s.id for s in r.segments}
        assert sum(s.area for s in r.segments) == int((r.panoptic > 0).sum())


def test_forward_raw_returns_tensors_only(tiny_model):
    tiny_model.eval()
    with torch.no_grad():
        raw = tiny_model.forward_raw(torch.rand(2, 3, 100, 140))
    assert isinstance(raw, RawOutputs) and all(isinstance(t, torch.Tensor) for t in raw)
    assert raw.sem_logits.shape == (2, 19, 100, 140)
    n = raw.boxes.shape[0]
    assert raw.scores.shape == raw.labels.shape == raw.batch_index.shape == (n,)
    assert raw.mask_logits.shape == (n, 28, 28)


def test_eval_with_forced_detections_runs_the_mask_branch_and_fusion(tiny_model):
    tiny_model.eval()
    tiny_model.roi_heads.score_thresh = 0.0  # untrained: let low-scoring detections through
    with torch.no_grad():
        raw = tiny_model.forward_raw(torch.rand(1, 3, 128, 192))
        result = tiny_model.fuse(raw, 0)
    assert raw.boxes.shape[0] > 0
    assert ((raw.labels >= 11) & (raw.labels <= 18)).all()
    assert (raw.boxes[:, 2] <= 192).all() and (raw.boxes[:, 3] <= 128).all()
    assert result.panoptic.shape == (128, 192)


@pytest.mark.parametrize("score_thresh, expected", [(0.0, 100), (1.0, 0)])
def test_forward_slots_hold_the_detections_of_forward_raw(tiny_model, score_thresh, expected):
    """Fixed slots (what export-onnx traces), crowded (all K filled) and blank: the valid slots are
    forward_raw's detections bit for bit, the others padding."""
    tiny_model.eval()
    tiny_model.roi_heads.score_thresh = score_thresh
    x = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        raw, slots = tiny_model.forward_raw(x), tiny_model.forward_slots(x)
    assert slots.num_detections.tolist() == [expected, expected]
    assert slots.boxes.shape == (2, 100, 4) and slots.mask_logits.shape == (2, 100, 28, 28)
    assert all(torch.equal(a, b) for a, b in zip(raw, slots.to_raw()))
    padding = torch.arange(100)[None] >= slots.num_detections[:, None]
    assert (slots.labels[padding] == -1).all() and (slots.scores[padding] == 0).all()
    assert (slots.mask_logits[padding] == 0).all()


def test_normalisation_constants_are_buffers_not_weights(tiny_model):
    assert "pixel_mean" not in tiny_model.state_dict()
    assert dict(tiny_model.named_buffers())["pixel_mean"].flatten().tolist() == pytest.approx(PRESETS["tiny"].pixel_mean)


def test_normalisation_is_the_authors_float32_arithmetic_bit_for_bit(tiny_model):
    """mmcv on the 8-bit image: (img - mean) / std in float32; we get [0, 1] input (v / 255)."""
    values = np.arange(256, dtype=np.uint8)
    image = np.broadcast_to(values.reshape(16, 16, 1), (16, 16, 3)).copy()  # every 8-bit value, every channel
    cfg = PRESETS["tiny"]
    theirs = (image.astype(np.float32) - np.array(cfg.pixel_mean, np.float32)) / np.array(cfg.pixel_std, np.float32)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    ours = tiny_model._prepare(x)[0].tensors[0, :, :16, :16].permute(1, 2, 0).numpy()
    assert np.array_equal(ours, theirs)
