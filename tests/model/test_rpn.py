"""RPN details that follow mmdet-v1: anchors, border handling, low-quality matches."""

from __future__ import annotations

import torch
from torchvision.models.detection.image_list import ImageList

from model.config import InstanceHeadConfig
from model.rpn import RPN, MMDetAnchorGenerator, RPNHead


def test_base_anchors_are_mmdet_v1():
    gen = MMDetAnchorGenerator((4, 8), 8.0, (0.5, 1.0, 2.0))
    square = gen.cell_anchors[0][1]  # ratio 1 at stride 4: 32 px wide, centred at 1.5
    assert square.tolist() == [-14.0, -14.0, 17.0, 17.0]
    wide, tall = gen.cell_anchors[0][0], gen.cell_anchors[0][2]
    assert (wide[2] - wide[0]) > (wide[3] - wide[1]) and (tall[3] - tall[1]) > (tall[2] - tall[0])
    assert gen.cell_anchors[1][1].tolist() == [-28.0, -28.0, 35.0, 35.0]  # centre (8 - 1) / 2, 64 px


def _rpn() -> RPN:
    return RPN(RPNHead(8, 3), (4, 8, 16, 32), InstanceHeadConfig())


def test_anchors_crossing_the_border_are_ignored_and_weak_matches_need_iou_03():
    rpn = _rpn()
    anchors = torch.tensor([[-5.0, 0, 20, 20], [0, 0, 20, 20], [30, 30, 40, 40], [50, 50, 60, 60]])
    gt = {"boxes": torch.tensor([[0.0, 0, 20, 20], [48.0, 48, 80, 80]])}
    labels, matched = rpn._assign([anchors], [gt], [(64, 64)])
    # anchor 0 crosses the left border: ignored; anchor 1 matches gt 0; anchor 2 overlaps nothing: background;
    # anchor 3 is gt 1's best anchor, but IoU 100/1024 < 0.3: not a positive (mmdet min_pos_iou)
    assert labels[0].tolist() == [-1.0, 1.0, 0.0, 0.0]
    assert matched[0][1].tolist() == [0.0, 0.0, 20.0, 20.0]


def test_low_quality_match_above_03_is_positive():
    rpn = _rpn()
    anchors = torch.tensor([[0.0, 0, 20, 20], [40.0, 40, 60, 60]])
    gt = {"boxes": torch.tensor([[0.0, 0, 20, 34]])}  # IoU with anchor 0 is about 0.6: below 0.7
    labels, _ = rpn._assign([anchors], [gt], [(64, 64)])
    assert labels[0].tolist() == [1.0, 0.0]


def test_proposals_are_inside_the_image():
    rpn = _rpn().eval()
    feats = {k: torch.rand(1, 8, 64 // s, 96 // s) for k, s in (("s4", 4), ("s8", 8), ("s16", 16), ("s32", 32))}
    boxes, losses = rpn(ImageList(torch.zeros(1, 3, 64, 96), [(60, 90)]), feats)
    assert losses == {} and boxes[0].shape[1] == 4 and len(boxes[0]) <= 1000
    # inclusive corners: the last column of a 90-wide image is 89
    assert (boxes[0][:, 2] <= 89).all() and (boxes[0][:, 3] <= 59).all() and (boxes[0] >= 0).all()
    assert boxes[0][:, 2].max() == 89 and boxes[0][:, 3].max() == 59  # large anchors reach the clip limit


def test_proposal_rule_per_level_nms_no_size_filter_clip_and_score_order():
    rpn = _rpn().eval()
    anchors = torch.tensor([[0.0, 0.0, 9.0, 9.0],      # level 0, logit 3
                            [3.0, 0.0, 12.0, 9.0],     # level 0, logit 2: IoU 0.538 with the first: kept (NMS 0.7)
                            [1.0, 0.0, 10.0, 9.0],     # level 0, logit 1: IoU 0.818 with the first: suppressed
                            [20.0, 20.0, 29.0, 29.0],  # level 0, logit 0, dw = dh = -10: inverted, never removed
                            [0.0, 0.0, 9.0, 9.0],      # level 1, logit 4: same box as the first, other level: kept
                            [-20.0, 30.0, 80.0, 90.0]])  # level 1, logit -1: clipped to the 40 x 50 image
    objectness = torch.tensor([3.0, 2.0, 1.0, 0.0, 4.0, -1.0])[:, None]
    deltas = torch.zeros(6, 4)
    deltas[3, 2:] = -10.0
    boxes = rpn.proposals([anchors], objectness, deltas, [(50, 40)], [4, 2])[0]
    expected = torch.tensor([[0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 9.0, 9.0], [3.0, 0.0, 12.0, 9.0],
                             [24.92, 24.92, 24.08, 24.08], [0.0, 30.0, 39.0, 49.0]])  # descending objectness
    assert boxes.shape == expected.shape and torch.allclose(boxes, expected, atol=1e-4)
