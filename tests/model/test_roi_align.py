"""Level rule and legacy "+1" RoIAlign of mmdet v1 (model/roi_align.py), with hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import roi_align

from model.boxes import decode_boxes
from model.fusion import paste_mask_logits
from model.roi_align import LevelRoIAlign, roi_levels

STRIDES = {"s4": 4, "s8": 8, "s16": 16, "s32": 32}


def _ramp_features(height: int, width: int, channels: int = 2, batch: int = 2) -> dict[str, torch.Tensor]:
    """Per level and image f[c, i, j] = j + 10 i + 1000 c: bilinear sampling of it is exact, so a pooled bin
    is the ramp at the bin centre."""
    feats = {}
    for name, s in STRIDES.items():
        i = torch.arange(height // s, dtype=torch.float32)[:, None]
        j = torch.arange(width // s, dtype=torch.float32)[None, :]
        feats[name] = torch.stack([j + 10 * i + 1000 * c for c in range(channels)])[None].repeat(batch, 1, 1, 1)
    return feats


def test_level_rule_uses_plus_one_sizes_and_finest_scale_56():
    boxes = torch.tensor([
        [0.0, 0.0, 110.0, 110.0],  # sqrt(111 * 111) = 111 < 112 -> P4 (0)
        [0.0, 0.0, 111.0, 111.0],  # 112 -> P8 (1); without the +1 it would be 111 -> P4
        [0.0, 0.0, 223.0, 223.0],  # 224 -> P16 (2)
        [0.0, 0.0, 447.0, 447.0],  # 448 -> P32 (3)
        [0.0, 0.0, 1999.0, 999.0],  # beyond: clamped to P32
        [5.0, 5.0, 5.0, 5.0],  # one pixel -> P4
    ])
    assert roi_levels(boxes, 4).tolist() == [0, 1, 2, 3, 3, 0]


def test_pooled_values_follow_the_plus_one_roi_end():
    feats = _ramp_features(64, 64)
    # columns 8..35 and rows 16..43 (28 x 28 px, level P4): at stride 4 the RoI runs from x 2 to 9 and y 4 to 11
    # in feature cells, so each of the 7 x 7 bins is one cell wide and bin (p, q) is centred at x 2.5 + q,
    # y 4.5 + p: value (2.5 + q) + 10 (4.5 + p)
    pooled = LevelRoIAlign(STRIDES, 7)(feats, [torch.tensor([[8.0, 16.0, 35.0, 43.0]])])
    assert pooled.shape == (1, 2, 7, 7)
    assert pooled[0, 0, 0, 0].item() == pytest.approx(47.5)
    assert pooled[0, 0, 6, 6].item() == pytest.approx(113.5)
    assert pooled[0, 1, 3, 2].item() == pytest.approx(1000 + 4.5 + 75.0)
    expected = (torch.arange(7) + 2.5)[None, :] + 10 * (torch.arange(7) + 4.5)[:, None]
    assert torch.allclose(pooled[0, 0], expected, atol=1e-4)


def test_level_roi_align_pools_each_row_from_its_level():
    torch.manual_seed(0)
    feats = {k: torch.randn(2, 3, 512 // s, 768 // s) for k, s in STRIDES.items()}
    boxes = []
    for _ in range(2):
        xy = torch.rand(39, 2) * torch.tensor([300.0, 200.0])
        wh = torch.rand(39, 2) ** 2 * 460 + 4  # sizes that map to P4..P16
        boxes.append(torch.cat([torch.cat([xy, xy + wh], 1), torch.tensor([[10.0, 5.0, 700.0, 500.0]])]))  # P32
    pooled = LevelRoIAlign(STRIDES, 7)(feats, boxes)
    levels = roi_levels(torch.cat(boxes), 4)
    assert set(levels.tolist()) == {0, 1, 2, 3}
    for r, (box, level) in enumerate(zip(torch.cat(boxes), levels.tolist())):
        name, stride = list(STRIDES.items())[level]
        edges = torch.cat([torch.tensor([r // 40]), box + torch.tensor([0, 0, 1, 1])])[None].float()
        one = roi_align(feats[name], edges, 7, spatial_scale=1 / stride, sampling_ratio=2, aligned=False)
        assert torch.equal(pooled[r], one[0]), r


def test_rows_with_undefined_level_are_zero_and_never_dropped():
    feats = _ramp_features(64, 64)
    good = torch.tensor([[8.0, 16.0, 35.0, 43.0]])
    bad = torch.tensor([[float("nan"), 0.0, 10.0, 10.0],  # NaN corner
                        [50.0, 10.0, 40.0, 20.0],          # inverted by 10 px in x: negative area
                        [0.0, 0.0, float("inf"), 10.0]])    # infinite corner
    boxes = [torch.cat([bad[:2], good]), torch.cat([bad[2:], good, good])]
    pooled = LevelRoIAlign(STRIDES, 7)(feats, boxes)
    reference = LevelRoIAlign(STRIDES, 7)(feats, [good])[0]
    assert pooled.shape == (6, 2, 7, 7)
    assert roi_levels(torch.cat(boxes), 4).tolist() == [4, 4, 0, 4, 0, 0]
    for r in (0, 1, 3):
        assert torch.equal(pooled[r], torch.zeros_like(reference))
    for r in (2, 4, 5):
        assert torch.equal(pooled[r], reference)


def test_no_bucket_is_empty_and_the_placeholders_leave_no_trace(monkeypatch):
    """Each level (and "no level") pools at least one row, also for RoIs that all sit on one level or for no
    RoI at all, and the result holds exactly the RoIs' rows."""
    import model.roi_align as module

    sizes = []

    def spy(features, rois, *args, **kwargs):
        sizes.append(rois.shape[0])
        return roi_align(features, rois, *args, **kwargs)

    monkeypatch.setattr(module, "roi_align", spy)
    feats = _ramp_features(64, 64)
    good = torch.tensor([[8.0, 16.0, 35.0, 43.0]])
    pooled = LevelRoIAlign(STRIDES, 7)(feats, [good, good])
    assert sizes == [3, 1, 1, 1] and pooled.shape == (2, 2, 7, 7)
    assert torch.equal(pooled[0], roi_align(feats["s4"], torch.tensor([[0.0, 8, 16, 36, 44]]), 7, 0.25, 2, False)[0])
    sizes.clear()
    assert LevelRoIAlign(STRIDES, 7)(feats, [good[:0]]).shape == (0, 2, 7, 7) and sizes == [1, 1, 1, 1]


def test_a_pathological_delta_inverts_a_box_that_stays_finite_and_in_place_downstream():
    rois = torch.tensor([[10.0, 10.0, 19.0, 19.0], [0.0, 0.0, 39.0, 39.0], [30.0, 30.0, 59.0, 59.0]])
    deltas = torch.zeros(3, 4)
    deltas[0, 2:] = -50.0  # clamped to -log(1000/16): 10 px -> 0.16 px, i.e. x2 = x1 - 0.84
    boxes = decode_boxes(deltas, rois, (1.0, 1.0, 1.0, 1.0), image_size=(64, 64))
    assert boxes[0, 2] < boxes[0, 0] and boxes[0, 3] < boxes[0, 1]
    assert boxes[0].tolist() == pytest.approx([14.92, 14.92, 14.08, 14.08], abs=1e-4)
    assert torch.equal(boxes[1:], rois[1:])  # zero deltas: the other rows are untouched
    assert roi_levels(boxes, 4).tolist() == [0, 0, 0]  # (w + 1) = 0.16 > 0: a defined (finest) level
    feats = _ramp_features(64, 64)
    pooled = LevelRoIAlign(STRIDES, 7)(feats, [boxes])
    assert torch.isfinite(pooled).all()
    assert torch.equal(pooled[1:], LevelRoIAlign(STRIDES, 7)(feats, [rois[1:]]))  # rows in place
    ys, xs, pasted = paste_mask_logits(torch.full((28, 28), 3.0), boxes[0], 64, 64)
    assert pasted.numel() > 0 and torch.isfinite(pasted).all()  # mirrored, but finite
