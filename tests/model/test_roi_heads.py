"""RoI stage rules of mmdet v1 (model/roi_heads.py): detections, sampling, mask targets, by hand."""

from __future__ import annotations

import math

import torch

from model.config import PRESETS
from model.norm import norm_factory
from model.roi_heads import RoIStage, mask_targets

STRIDES = {"s4": 4, "s8": 8, "s16": 16, "s32": 32}


def _stage(num_things: int = 2) -> RoIStage:
    return RoIStage(8, num_things, STRIDES, PRESETS["tiny"].instance, norm_factory("bn", eps=1e-5))


def _logits(probs: list[list[float]]) -> torch.Tensor:
    return torch.tensor(probs).log()  # softmax(log p) = p


def test_detections_score_threshold_class_nms_with_plus_one_and_no_size_filter():
    stage = _stage().eval()
    proposals = [torch.tensor([[0.0, 0.0, 9.0, 9.0],      # class 1, 0.9: kept
                               [3.0, 0.0, 12.0, 9.0],     # class 1, 0.8: IoU 70 / 130 > 0.5 with the first: suppressed
                               [30.0, 30.0, 30.0, 30.0],  # class 2, 0.7: a one-pixel box: kept
                               [3.0, 0.0, 12.0, 9.0],     # class 2, 0.6: not suppressed by class 1's box
                               [50.0, 0.0, 59.0, 9.0]])]  # best class 1 at exactly 0.5: not above the threshold
    probs = _logits([[0.05, 0.9, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.3, 0.1, 0.6], [0.25, 0.5, 0.25]])
    deltas = torch.zeros(5, 12)  # zero deltas: the proposals themselves
    boxes, scores, labels = stage._detections(probs, deltas, proposals, [(64, 64)])
    assert labels[0].tolist() == [1, 2, 2]
    assert scores[0].tolist() == [torch.tensor(p).item() for p in (0.9, 0.7, 0.6)]
    assert boxes[0].tolist() == [[0.0, 0.0, 9.0, 9.0], [30.0, 30.0, 30.0, 30.0], [3.0, 0.0, 12.0, 9.0]]


def test_detections_are_decoded_per_class_with_the_box_stds_and_clipped():
    stage = _stage().eval()
    proposals = [torch.tensor([[10.0, 20.0, 29.0, 59.0]])]
    deltas = torch.zeros(1, 12)
    deltas[0, 8:] = torch.tensor([1.0, -2.5, 5 * math.log(2.0), 100.0])  # class 2: x 2..41, y 29.5 -+ huge
    boxes, _, labels = stage._detections(_logits([[0.1, 0.1, 0.8]]), deltas, proposals, [(48, 64)])
    assert labels[0].tolist() == [2]
    assert torch.allclose(boxes[0], torch.tensor([[2.0, 0.0, 41.0, 47.0]]), atol=1e-4)  # y clipped to [0, 47]


def test_sampling_adds_ground_truth_as_its_own_proposal():
    stage = _stage().train()
    gt = {"boxes": torch.tensor([[4.0, 4.0, 19.0, 19.0]]), "labels": torch.tensor([2])}
    far = torch.tensor([[40.0, 40.0, 59.0, 59.0]])  # IoU 0: background
    rois, gt_index, labels, targets = stage._sample([far], [gt])
    order = rois[0][:, 0].argsort()
    assert rois[0][order].tolist() == [[4.0, 4.0, 19.0, 19.0], [40.0, 40.0, 59.0, 59.0]]
    assert labels[0][order].tolist() == [2, 0] and gt_index[0][order].tolist() == [0, 0]
    assert targets[0][order][0].tolist() == [0.0, 0.0, 0.0, 0.0]  # the ground truth regresses onto itself
    _, _, labels, _ = stage._sample([far], [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}])
    assert labels[0].tolist() == [0]  # no ground truth: background only


def test_mask_targets_crop_integer_box_resize_and_binarise():
    masks = torch.zeros(1, 8, 8, dtype=torch.bool)
    masks[0, 2:6, 2:6] = True  # pixels 2..5
    boxes = torch.tensor([[2.0, 2.0, 5.0, 5.0],    # exactly the object: all foreground
                          [0.0, 0.0, 7.0, 7.0],    # the whole image, 8 -> 28
                          [1.7, 1.2, 5.9, 5.5]])   # truncated to 1..5: crop rows/columns [0, 1, 1, 1, 1] -> 28
    t = mask_targets(masks, boxes, torch.zeros(3, dtype=torch.int64), 28)
    assert t.shape == (3, 28, 28) and t[0].all()
    # 8 -> 28: sample i reads source (i + 0.5) * 8 / 28 - 0.5; along one axis the value is >= 0.5 for samples
    # 7..20 (sample 7: 0.643 of pixel 2, sample 6: 0.357). In 2-D the corner samples get 0.643^2 = 0.413: out.
    expected = torch.zeros(28, 28, dtype=torch.bool)
    expected[7:21, 7:21] = True
    expected[7, 7] = expected[7, 20] = expected[20, 7] = expected[20, 20] = False
    assert torch.equal(t[1], expected)
    # 5 -> 28: sample i reads (i + 0.5) * 5 / 28 - 0.5: sample 6 gets 0.661 of the first foreground pixel, sample
    # 5 gets 0.482; the corner sample (6, 6) 0.661^2 = 0.437
    expected = torch.zeros(28, 28, dtype=torch.bool)
    expected[6:, 6:] = True
    expected[6, 6] = False
    assert torch.equal(t[2], expected)
