"""mmdet-v1 box arithmetic (model/boxes.py) on boxes whose results were computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from model.boxes import (
    IGNORED, MAX_LOG_RATIO, NEGATIVE, assign_max_iou, batched_nms, box_iou, clip_boxes, decode_boxes, encode_boxes,
    inclusive_corners, pixel_edges,
)

BOX_STDS = (0.1, 0.1, 0.2, 0.2)


def test_decode_uses_inclusive_widths_and_centres():
    # roi covers columns 10..29 (w = 20, centre 19.5) and rows 20..59 (h = 40, centre 39.5)
    roi = torch.tensor([[10.0, 20.0, 29.0, 59.0]])
    deltas = torch.tensor([[0.1, -0.25, math.log(2.0), 0.0]])
    # cx' = 19.5 + 20 * 0.1 = 21.5, w' = 40: x 21.5 -+ 19.5; cy' = 39.5 - 40 * 0.25 = 29.5, h' = 40: y 29.5 -+ 19.5
    assert decode_boxes(deltas, roi, (1.0, 1.0, 1.0, 1.0))[0].tolist() == pytest.approx([2.0, 10.0, 41.0, 49.0], abs=1e-4)
    # the box head's stds scale the deltas: (1, -2.5, 5 log 2, 0) * (0.1, 0.1, 0.2, 0.2) is the same move
    scaled = torch.tensor([[1.0, -2.5, 5 * math.log(2.0), 0.0]])
    assert decode_boxes(scaled, roi, BOX_STDS)[0].tolist() == pytest.approx([2.0, 10.0, 41.0, 49.0], abs=1e-4)
    assert torch.equal(decode_boxes(torch.zeros(1, 8), roi, BOX_STDS), roi.repeat(1, 2))  # zero deltas: same box, per class


def test_dw_dh_are_clamped_on_both_sides_and_clip_is_to_w_minus_1():
    roi = torch.tensor([[0.0, 0.0, 15.0, 15.0]])  # 16 x 16, centre 7.5
    # dw = +100 -> log(1000/16): w' = 16 * 62.5 = 1000, x 7.5 -+ 499.5 = -492 .. 507
    # dh = -100 -> -log(1000/16): h' = 16 / 62.5 = 0.256, y 7.5 -+ (0.256 - 1) / 2 = 7.872 .. 7.128 (inverted)
    deltas = torch.tensor([[0.0, 0.0, 100.0, -100.0]])
    raw = decode_boxes(deltas, roi, (1.0, 1.0, 1.0, 1.0))
    assert raw[0].tolist() == pytest.approx([-492.0, 7.872, 507.0, 7.128], abs=1e-3)
    assert MAX_LOG_RATIO == pytest.approx(math.log(1000 / 16))
    clipped = decode_boxes(deltas, roi, (1.0, 1.0, 1.0, 1.0), image_size=(100, 200))
    assert clipped[0].tolist() == pytest.approx([0.0, 7.872, 199.0, 7.128], abs=1e-3)  # x into [0, W - 1]
    assert torch.isfinite(clipped).all()


def test_clip_limits_are_w_minus_1_and_h_minus_1():
    boxes = torch.tensor([[-5.0, 3.0, 250.0, 120.0], [10.0, -1.0, 20.0, 99.5]])
    assert clip_boxes(boxes, (100, 200)).tolist() == [[0.0, 3.0, 199.0, 99.0], [10.0, 0.0, 20.0, 99.0]]


def test_encode_inverts_decode_with_inclusive_widths():
    rois = torch.tensor([[10.0, 20.0, 29.0, 59.0], [0.0, 0.0, 0.0, 0.0]])
    gt = torch.tensor([[2.0, 10.0, 41.0, 49.0], [0.0, 0.0, 1.0, 3.0]])
    # second: 1 x 1 roi at centre 0 -> 2 x 4 box at centre (0.5, 1.5): dx 0.5, dy 1.5, dw log 2, dh log 4
    deltas = encode_boxes(rois, gt, (1.0, 1.0, 1.0, 1.0))
    assert deltas[1].tolist() == pytest.approx([0.5, 1.5, math.log(2), math.log(4)])
    assert torch.allclose(decode_boxes(encode_boxes(rois, gt, BOX_STDS), rois, BOX_STDS), gt, atol=1e-4)


def test_iou_uses_plus_one_areas():
    a = torch.tensor([[0.0, 0.0, 9.0, 9.0]])  # 10 x 10 = 100 pixels
    b = torch.tensor([[5.0, 0.0, 14.0, 9.0], [0.0, 0.0, 9.0, 4.0]])
    # b0: 5 shared columns x 10 rows = 50, union 150; b1: 50 shared, union 100
    assert box_iou(a, b)[0].tolist() == pytest.approx([1 / 3, 0.5])
    assert pixel_edges(a).tolist() == [[0.0, 0.0, 10.0, 10.0]] and torch.equal(inclusive_corners(pixel_edges(a)), a)


def test_nms_keep_set_with_plus_one_areas_and_strict_threshold():
    boxes = torch.tensor([[0.0, 0.0, 9.0, 9.0],     # A 0.9: kept
                          [3.0, 0.0, 12.0, 9.0],    # B 0.8: 70 / 130 = 0.538 > 0.5 with A: suppressed
                          [20.0, 20.0, 29.0, 29.0],  # C 0.7: overlaps nothing: kept
                          [0.0, 0.0, 9.0, 4.0],     # E 0.6: 50 / 100 = 0.5 exactly with A: not > 0.5, kept
                          [3.0, 0.0, 12.0, 9.0]])   # B again, other class: never suppressed by class 0
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    groups = torch.tensor([0, 0, 0, 0, 1])
    assert batched_nms(boxes, scores, groups, 0.5).tolist() == [0, 2, 3, 4]
    # without the +1 (areas 81, intersection 54) B would have IoU 0.5 and survive: the convention matters here
    from torchvision.ops import batched_nms as plain_nms

    assert 1 in plain_nms(boxes, scores, groups, 0.5).tolist()


def test_max_iou_assigner_rules():
    iou = torch.tensor([[0.80, 0.50, 0.10, 0.35, 0.0, -1.0],
                        [0.30, 0.20, 0.25, 0.35, 0.0, -1.0],
                        [0.10, 0.10, 0.10, 0.35, 0.0, -1.0]])
    # box 0: best 0.8 >= 0.7 -> gt 0; box 1: 0.5 is between the thresholds -> ignored; box 2: best 0.25 < 0.3 ->
    # negative; box 3: between, but it is the best box of gts 1 and 2 (0.35 >= 0.3): the later one claims it;
    # box 4: IoU 0 -> negative; box 5: negative IoU (marked outside the image) -> ignored
    assert assign_max_iou(iou, 0.7, 0.3, 0.3).tolist() == [0, IGNORED, NEGATIVE, 2, NEGATIVE, IGNORED]
    # RoI stage thresholds (0.5 / 0.5 / 0.5): box 1 (0.5) is positive, box 3 is nobody's claim any more
    assert assign_max_iou(iou, 0.5, 0.5, 0.5).tolist() == [0, 0, NEGATIVE, NEGATIVE, NEGATIVE, IGNORED]
    assert assign_max_iou(torch.zeros(0, 3), 0.7, 0.3, 0.3).tolist() == [NEGATIVE] * 3
