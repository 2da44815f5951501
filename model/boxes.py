"""Box arithmetic of mmdetection v1, the convention the authors' checkpoint was trained and tested with.

Every box inside the instance branch is ``(x1, y1, x2, y2)`` with **inclusive** pixel corners: the box
covers pixel columns x1..x2, so its width is ``x2 - x1 + 1`` and a one-pixel box has x1 == x2. Anchors,
proposals, ground truth (converted from the training targets' pixel edges by subtracting 1 from x2 and
y2) and detections all follow it. Every step that decodes, encodes, clips, compares or suppresses boxes
goes through this module, so each rule below is written once:

- **Pixel edges.** ``boxes + (0, 0, 1, 1)`` (:func:`pixel_edges`) are the same boxes as half-open
  pixel-edge boxes. That is what torchvision's ``box_iou``, ``nms`` and ``roi_align(aligned=False)``
  measure, so passing them these reproduces mmdet v1's ``+1`` areas, IoU and NMS and its RoIAlign, whose
  RoI ends at ``(x2 + 1) * spatial_scale``.
- **Decode** (:func:`decode_boxes`): ``w = x2 - x1 + 1``, centre ``(x1 + x2) / 2`` (= ``x1 + (w - 1) / 2``);
  the deltas are multiplied by the stds, dw and dh are clamped to ``[-log(1000/16), log(1000/16)]``;
  ``w' = w exp(dw)``, ``cx' = cx + w dx``; corners ``cx' -+ (w' - 1) / 2``. For ``w' < 1`` this gives
  ``x2 < x1`` (an inverted box, by less than one pixel): every later step keeps such rows finite and in
  place.
- **Encode** (:func:`encode_boxes`): the inverse, divided by the stds.
- **Clip** (:func:`clip_boxes`): every coordinate into ``[0, W - 1] x [0, H - 1]``. No box is ever removed
  for being small.
- **IoU** (:func:`box_iou`): areas ``(x2 - x1 + 1)(y2 - y1 + 1)``, intersection ``(min x2 - max x1 + 1)``
  clamped at 0 per side.
- **NMS** (:func:`batched_nms`): per group, in descending score, suppress a box when its IoU (as above)
  with a kept box is *greater than* the threshold.
- **Assignment** (:func:`assign_max_iou`): mmdet's ``MaxIoUAssigner``.

All of it runs in **float32**, whatever the network's precision (fp16 autocast, an fp16 export): fp16
spaces representable values 2 pixels apart above 2048, and torchvision's CPU NMS has no fp16 kernel.
:func:`decode_boxes` and :func:`batched_nms` take inputs of any float dtype and compute in float32.
"""

from __future__ import annotations

import math

import torch
from torchvision import ops

PIXEL_EDGE_OFFSET = (0.0, 0.0, 1.0, 1.0)
"""Added to inclusive corners, gives half-open pixel-edge boxes."""
MAX_LOG_RATIO = abs(math.log(16 / 1000))
"""mmdet v1's ``wh_ratio_clip`` 16/1000: |dw|, |dh| are clamped to log(1000/16) = 4.135."""
NEGATIVE, IGNORED = -1, -2
"""Values of :func:`assign_max_iou` for background and for ignored boxes."""


def pixel_edges(boxes: torch.Tensor) -> torch.Tensor:
    """(N, 4) inclusive corners -> the same boxes as half-open pixel edges ``(x1, y1, x2 + 1, y2 + 1)``."""
    return boxes + boxes.new_tensor(PIXEL_EDGE_OFFSET)


def inclusive_corners(edges: torch.Tensor) -> torch.Tensor:
    """(N, 4) half-open pixel-edge boxes -> inclusive corners ``(x1, y1, x2 - 1, y2 - 1)``."""
    return edges - edges.new_tensor(PIXEL_EDGE_OFFSET)


def decode_boxes(
    deltas: torch.Tensor,
    rois: torch.Tensor,
    stds: tuple[float, float, float, float],
    image_size: tuple | None = None,
) -> torch.Tensor:
    """Apply regression deltas to boxes (mmdet v1 ``delta2bbox``, means 0).

    Args:
        deltas: (R, 4K) float (dx, dy, dw, dh) for each of K classes (K = 1 for the RPN), in units of ``stds``.
        rois: (R, 4) float inclusive corners, pixels.
        stds: the target stds the deltas were trained with (RPN 1, 1, 1, 1; box head 0.1, 0.1, 0.2, 0.2).
        image_size: (H, W) to clip to with :func:`clip_boxes` (ints, or 0-dim tensors when traced); None = no clip.

    Returns:
        (R, 4K) float32 inclusive corners; finite whenever the inputs are (dw/dh are clamped).
    """
    deltas, rois = deltas.float(), rois.float()
    d = deltas.reshape(deltas.shape[0], -1, 4) * deltas.new_tensor(stds)
    dx, dy = d[..., 0], d[..., 1]
    dw = d[..., 2].clamp(min=-MAX_LOG_RATIO, max=MAX_LOG_RATIO)
    dh = d[..., 3].clamp(min=-MAX_LOG_RATIO, max=MAX_LOG_RATIO)
    px = ((rois[:, 0] + rois[:, 2]) * 0.5)[:, None]
    py = ((rois[:, 1] + rois[:, 3]) * 0.5)[:, None]
    pw = (rois[:, 2] - rois[:, 0] + 1.0)[:, None]
    ph = (rois[:, 3] - rois[:, 1] + 1.0)[:, None]
    gw, gh = pw * dw.exp(), ph * dh.exp()
    gx, gy = px + pw * dx, py + ph * dy
    boxes = torch.stack([gx - gw * 0.5 + 0.5, gy - gh * 0.5 + 0.5, gx + gw * 0.5 - 0.5, gy + gh * 0.5 - 0.5], -1)
    if image_size is not None:
        boxes = clip_boxes(boxes, image_size)
    return boxes.reshape(deltas.shape)


def encode_boxes(rois: torch.Tensor, gt: torch.Tensor, stds: tuple[float, float, float, float]) -> torch.Tensor:
    """Regression targets from ``rois`` to ``gt`` (mmdet v1 ``bbox2delta``, means 0): the inverse of
    :func:`decode_boxes` (without the clamp).

    Args:
        rois, gt: (R, 4) float inclusive corners.
        stds: divide the deltas by these.

    Returns:
        (R, 4) float (dx, dy, dw, dh).
    """
    pw, ph = rois[:, 2] - rois[:, 0] + 1.0, rois[:, 3] - rois[:, 1] + 1.0
    gw, gh = gt[:, 2] - gt[:, 0] + 1.0, gt[:, 3] - gt[:, 1] + 1.0
    dx = ((gt[:, 0] + gt[:, 2]) * 0.5 - (rois[:, 0] + rois[:, 2]) * 0.5) / pw
    dy = ((gt[:, 1] + gt[:, 3]) * 0.5 - (rois[:, 1] + rois[:, 3]) * 0.5) / ph
    deltas = torch.stack([dx, dy, torch.log(gw / pw), torch.log(gh / ph)], 1)
    return deltas / deltas.new_tensor(stds)


def clip_boxes(boxes: torch.Tensor, image_size: tuple) -> torch.Tensor:
    """Clamp every coordinate of (..., 4) inclusive boxes into ``[0, W - 1] x [0, H - 1]``.

    ``image_size`` is (H, W): ints, or 0-dim tensors while traced for ONNX (then the limits follow the
    input size of the exported graph). NaN stays NaN.
    """
    h, w = image_size
    if isinstance(h, torch.Tensor) or isinstance(w, torch.Tensor):
        hw = torch.stack([torch.as_tensor(w), torch.as_tensor(h)]).to(boxes)
        upper = (hw - 1).repeat(2)
    else:
        upper = boxes.new_tensor([w - 1, h - 1, w - 1, h - 1])
    return torch.minimum(boxes.clamp(min=0), upper)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4), (M, 4) inclusive corners -> (N, M) IoU with mmdet v1's +1 areas."""
    return ops.box_iou(pixel_edges(a), pixel_edges(b))


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_thresh: float) -> torch.Tensor:
    """Indices of the boxes NMS keeps within each group (mmdet v1 ``nms`` per class or per level).

    Args:
        boxes: (N, 4) float inclusive corners.
        scores: (N,) float.
        groups: (N,) int64: boxes of different groups never suppress each other.
        iou_thresh: a box is suppressed when its IoU (+1 areas) with a kept, higher-scoring box of its
            group is greater than this.

    Returns:
        (K,) int64 indices, in descending score.
    """
    edges, scores = pixel_edges(boxes.float()), scores.float()
    if torch.jit.is_tracing():
        # torchvision's own coordinate trick (groups shifted apart), without the "no boxes" branch it puts
        # around it: the exported graph never passes an empty set, and has no data-dependent If
        shift = groups.to(edges) * (edges.max() + 1)
        return ops.nms(edges + shift[:, None], scores, iou_thresh)
    return ops.batched_nms(edges, scores, groups, iou_thresh)


def assign_max_iou(iou: torch.Tensor, pos_thresh: float, neg_thresh: float, min_pos_iou: float) -> torch.Tensor:
    """Ground truth of each box (mmdet v1 ``MaxIoUAssigner``, ``gt_max_assign_all``).

    Rules, in order: a box whose best IoU is in [0, ``neg_thresh``) is background; one whose best IoU is
    >= ``pos_thresh`` takes that ground truth (the first on ties); then every ground truth whose best IoU
    is >= ``min_pos_iou`` claims all boxes that reach that best IoU, a later ground truth overriding an
    earlier one. Everything else (and a box whose IoUs are negative, i.e. marked ignored) is ignored.

    Args:
        iou: (G, N) float IoU of G ground truths with N boxes (G may be 0).

    Returns:
        (N,) int64: the ground-truth index, :data:`NEGATIVE` or :data:`IGNORED`.
    """
    g, n = iou.shape
    if g == 0:
        return torch.full((n,), NEGATIVE, dtype=torch.int64, device=iou.device)
    best, best_gt = iou.max(dim=0)
    assigned = torch.full((n,), IGNORED, dtype=torch.int64, device=iou.device)
    assigned[(best >= 0) & (best < neg_thresh)] = NEGATIVE
    assigned = torch.where(best >= pos_thresh, best_gt, assigned)
    gt_best = iou.max(dim=1).values
    claims = (iou == gt_best[:, None]) & (gt_best[:, None] >= min_pos_iou)
    claimant = torch.where(claims, torch.arange(g, device=iou.device)[:, None], -1).max(dim=0).values
    return torch.where(claimant >= 0, claimant, assigned)
