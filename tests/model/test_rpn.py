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
    assert (boxes[0][:, 2] <= 90).all() and (boxes[0][:, 3] <= 60).all() and (boxes[0] >= 0).all()


def test_level_roi_align_equals_torchvision_multiscale_roi_align():
    from torchvision.ops import MultiScaleRoIAlign

    from model.roi_heads import LevelRoIAlign

    torch.manual_seed(0)
    feats = {k: torch.randn(2, 4, 512 // s, 768 // s) for k, s in (("s4", 4), ("s8", 8), ("s16", 16), ("s32", 32))}
    boxes = []
    for _ in range(2):
        xy = torch.rand(60, 2) * torch.tensor([300.0, 200.0])
        wh = torch.rand(60, 2) ** 2 * 460 + 4  # sizes that map to all four levels
        boxes.append(torch.cat([torch.cat([xy, xy + wh], 1), torch.tensor([[10.0, 5.0, 700.0, 500.0]])]))
    sizes = [(512, 768)] * 2
    ours_pool = LevelRoIAlign(list(feats), 7, sampling_ratio=2)
    ours = ours_pool(feats, boxes, sizes)
    theirs = MultiScaleRoIAlign(list(feats), 7, sampling_ratio=2)(feats, boxes, sizes)
    assert len(ours_pool.map_levels(boxes).unique()) == 4
    assert torch.equal(ours, theirs)
