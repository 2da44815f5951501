"""Panoptic fusion on hand-made tensors with exact expected ids (SPEC section 6)."""

from __future__ import annotations

import torch

from model.config import FusionConfig
from model.fusion import fuse_panoptic, paste_mask_logits, stuff_area_threshold

NUM_STUFF = 2  # classes 0, 1 are stuff; 2, 3 are things
H, W = 16, 20
CFG = FusionConfig(min_stuff_area=1, stuff_area_reference=None)


def sem_logits(stuff_left: int = 0, stuff_right: int = 1) -> torch.Tensor:
    """Left half favours ``stuff_left``, right half ``stuff_right``; thing logits low."""
    logits = torch.full((4, H, W), -2.0)
    logits[stuff_left, :, : W // 2] = 3.0
    logits[stuff_right, :, W // 2 :] = 3.0
    return logits


def fuse(logits, boxes=(), labels=(), scores=(), masks=None, cfg=CFG):
    k = len(boxes)
    boxes_t = torch.tensor(boxes, dtype=torch.float32).reshape(k, 4)
    masks_t = torch.full((k, 28, 28), 5.0) if masks is None else masks
    return fuse_panoptic(logits, boxes_t, torch.tensor(labels, dtype=torch.int64).reshape(k),
                         torch.tensor(scores, dtype=torch.float32).reshape(k), masks_t, cfg, NUM_STUFF)


def test_no_detections_gives_stuff_segments_in_class_order():
    result = fuse(sem_logits(stuff_left=1, stuff_right=0))
    assert result.panoptic.dtype == torch.int32 and result.panoptic.shape == (H, W)
    assert [(s.id, s.category_id, s.is_thing, s.score) for s in result.segments] == [(1, 0, False, None), (2, 1, False, None)]
    assert (result.panoptic[:, W // 2 :] == 1).all() and (result.panoptic[:, : W // 2] == 2).all()
    assert result.segments[0].area == H * W // 2
    assert result.segments[0].bbox == (W // 2, 0, W // 2, H)


def test_thing_pixels_that_no_instance_claims_are_void():
    logits = sem_logits()
    logits[3, 4:8, 4:8] = 10.0  # semantic says "thing", no detection
    result = fuse(logits)
    assert (result.panoptic[4:8, 4:8] == 0).all()
    assert (result.semantic[4:8, 4:8] == 3).all()
    assert all(not s.is_thing for s in result.segments)


def test_instance_takes_its_box_and_carries_label_and_score():
    logits = sem_logits()
    logits[2, 2:10, 2:10] = 4.0
    result = fuse(logits, boxes=[(2, 2, 10, 10)], labels=[2], scores=[0.875])
    thing = result.segments[0]
    assert (thing.id, thing.category_id, thing.is_thing, thing.score) == (1, 2, True, 0.875)
    assert (result.panoptic[2:10, 2:10] == 1).all()
    assert thing.area == 64 and thing.bbox == (2, 2, 8, 8)
    assert [s.id for s in result.segments] == [1, 2, 3]  # things first, then stuff


def test_higher_score_is_processed_first_and_wins_ties():
    logits = sem_logits()
    boxes = [(6, 6, 14, 14), (2, 2, 10, 10)]  # overlap 4x4 = 25 % of each: both kept
    result = fuse(logits, boxes=boxes, labels=[3, 2], scores=[0.625, 0.9375])
    first, second = result.segments[0], result.segments[1]
    assert (first.category_id, first.score) == (2, 0.9375)  # id 1 = highest score
    assert (second.category_id, second.score) == (3, 0.625)
    # Both semantic boxes start one pixel inside the detection box (mmdet "+1" convention): in rows and
    # columns 7..9 both have B = -2 and equal FL, so the earlier (higher score) channel wins; on row and
    # column 6 the second instance has B = 0 (outside its semantic box), hence the larger FL.
    assert (result.panoptic[7:10, 7:10] == 1).all()
    assert (result.panoptic[6, 6:10] == 2).all() and (result.panoptic[6:10, 6] == 2).all()


def test_overlap_filter_drops_mostly_covered_instance():
    logits = sem_logits()
    boxes = [(2, 2, 10, 10), (3, 3, 11, 11)]  # second is 49/64 covered by the first
    result = fuse(logits, boxes=boxes, labels=[2, 3], scores=[0.875, 0.75])
    things = [s for s in result.segments if s.is_thing]
    assert [(s.category_id, s.score) for s in things] == [(2, 0.875)]
    looser = FusionConfig(overlap_thresh=0.875, min_stuff_area=1, stuff_area_reference=None)
    things = [s for s in fuse(logits, boxes, [2, 3], [0.875, 0.75], cfg=looser).segments if s.is_thing]
    assert len(things) == 2


def test_instance_winning_no_pixel_disappears_and_ids_stay_consecutive():
    logits = sem_logits()
    masks = torch.full((2, 28, 28), 5.0)
    masks[0] = -8.0  # first (highest score) has an empty mask: kept by the overlap rule, but wins nothing
    result = fuse(logits, boxes=[(2, 2, 8, 8), (12, 2, 18, 8)], labels=[2, 3], scores=[0.875, 0.75], masks=masks)
    things = [s for s in result.segments if s.is_thing]
    assert [(s.id, s.category_id) for s in things] == [(1, 3)]
    assert set(result.panoptic.unique().tolist()) == {1, 2, 3}


def test_small_stuff_class_becomes_void():
    logits = sem_logits()
    logits[1, 0:2, 0:3] = 9.0  # 6 pixels of class 1 on the left, besides its right half
    logits[0, 0:2, 0:3] = -9.0
    result = fuse(logits, cfg=FusionConfig(min_stuff_area=H * W // 2, stuff_area_reference=None))
    assert [s.category_id for s in result.segments] == [1]  # class 0 has H*W/2 - 6 pixels: void, class 1 H*W/2 + 6
    assert (result.panoptic[:, 3 : W // 2] == 0).all()


def test_stuff_area_counts_after_instances_take_their_pixels():
    logits = sem_logits()
    area_left = H * (W // 2)
    cfg = FusionConfig(min_stuff_area=area_left - 10, stuff_area_reference=None)
    assert any(s.category_id == 0 for s in fuse(logits, cfg=cfg).segments)
    result = fuse(logits, boxes=[(0, 0, 4, 4)], labels=[2], scores=[0.875], cfg=cfg)  # takes 16 pixels of class 0
    assert [s.category_id for s in result.segments] == [2, 1]


def test_stuff_area_threshold_scales_with_resolution():
    cfg = FusionConfig()
    assert stuff_area_threshold(cfg, 1024, 2048) == 2048
    assert stuff_area_threshold(cfg, 512, 1024) == 512
    assert stuff_area_threshold(FusionConfig(stuff_area_reference=None), 512, 1024) == 2048


def test_zero_outside_the_box_competes_like_the_official_code():
    logits = sem_logits()
    logits[:NUM_STUFF, 12:, :] = -1.0  # bottom rows: every stuff logit negative
    result = fuse(logits, boxes=[(2, 2, 6, 6)], labels=[2], scores=[0.875])
    assert (result.panoptic[12:, :] == 1).all()  # FL = 0 outside the box beats negative stuff logits
    assert (result.panoptic[2:6, 2:6] == 1).all()


def test_mask_logits_are_pasted_with_zero_padding_beyond_the_box():
    # box x1 = y1 = 4, 56 px wide: image column j reads the 28-cell mask at s = 28 (j + 0.5 - 4) / 56 = (j - 3.5) / 2
    mask = torch.arange(28.0)[None, :].repeat(28, 1)  # the value of cell k is k: linear in s inside the grid
    ys, xs, pasted = paste_mask_logits(mask, torch.tensor([4.0, 4.0, 60.0, 60.0]), 64, 64)
    assert (ys.start, xs.start) <= (2, 2) and (ys.stop, xs.stop) == (64, 64)

    def at(y: int, x: int) -> float:
        return float(pasted[y - ys.start, x - xs.start])

    assert at(20, 10) == 2.75  # s = 3.25 lies between cells 2 and 3 (centres 2.5, 3.5): 0.25 * 2 + 0.75 * 3
    ones = paste_mask_logits(torch.full((28, 28), 5.0), torch.tensor([4.0, 4.0, 60.0, 60.0]), 64, 64)[2]
    # column 3 is outside the box (its first column is 4) and still gets a quarter of cell 0 (s = -0.25)
    assert float(ones[20 - ys.start, 3 - xs.start]) == 1.25
    assert float(ones[3 - ys.start, 3 - xs.start]) == 0.3125  # a quarter of a quarter at the corner
    assert float(ones[20 - ys.start, 2 - xs.start]) == 0.0  # s = -0.75: both neighbours outside the grid
    assert float(ones[20 - ys.start, 61 - xs.start]) == 0.0  # s = 28.75
    assert float(ones[20 - ys.start, 60 - xs.start]) == 1.25  # s = 28.25: the box's last column fades too
    assert paste_mask_logits(mask, torch.tensor([70.0, 70.0, 80.0, 80.0]), 64, 64)[2].numel() == 0
    assert paste_mask_logits(mask, torch.tensor([4.0, 4.0, 4.0, 9.0]), 64, 64)[2].numel() == 0  # zero width


def test_an_instance_wins_a_pixel_outside_its_box():
    logits = torch.full((4, 64, 64), -2.0)
    logits[0] = 3.0
    boxes = [(4, 4, 60, 60)]
    result = fuse(logits, boxes=boxes, labels=[2], scores=[0.875], cfg=CFG)
    # column 3: L = 1.25, A = 5, B = 0 (outside the semantic box): FL = (0.993 + 0.5) * 5 = 7.5 > 3
    assert (result.panoptic[5:60, 3] == 1).all() and (result.panoptic[5:60, 2] != 1).all()
    assert result.segments[0].bbox[0] == 3


def test_fusion_is_deterministic_and_pure():
    logits = sem_logits()
    logits[2, 2:10, 2:10] = 4.0
    args = ([(2, 2, 10, 10), (8, 3, 15, 12)], [2, 3], [0.875, 0.6875])
    a, b = fuse(logits.clone(), *args), fuse(logits.clone(), *args)
    assert torch.equal(a.panoptic, b.panoptic) and a.segments == b.segments
    before = logits.clone()
    fuse(logits, *args)
    assert torch.equal(logits, before)
