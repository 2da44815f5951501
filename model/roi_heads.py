"""RoI stage (SPEC section 5.2): box head and mask head, as the official mmdet-v1 code runs them.

Boxes are mmdet v1's inclusive corners; all box arithmetic is in :mod:`model.boxes`, the pooling in
:mod:`model.roi_align` (7x7 box and 14x14 mask features, level rule with finest scale 56, legacy "+1"
RoIAlign, sampling ratio 2).

- **Test**: softmax scores; class-specific decode of the proposals (stds 0.1, 0.1, 0.2, 0.2, dw/dh clamped
  to +-log(1000/16)) clipped to ``[0, W - 1] x [0, H - 1]``; per class: score > ``score_thresh``, NMS
  ``nms_thresh`` with +1 areas; the best ``detections_per_img`` over all classes. No box is removed for
  its size. The mask head then runs on the final boxes.
- **Training**: each proposal takes a ground truth by mmdet's MaxIoUAssigner (IoU with +1 areas, >= 0.5
  positive, < 0.5 negative, each ground truth claiming its best proposals); the ground-truth boxes are
  added as proposals of themselves; 256 RoIs per image are sampled at random, at most 25 % positive
  (torchvision's sampler); regression targets are encoded with +1 widths and the stds. Mask targets:
  the proposal clipped to the image and truncated to integers, the ground-truth mask cropped to pixels
  x1..x2, y1..y2 of it, resized bilinearly (half-pixel centres, edges clamped) to 28x28 and binarised
  at 0.5 (mmdet's ``mask_target``).
- **Heads and losses** (official): box head flatten -> FC 1024 -> ReLU -> FC 1024 -> ReLU -> ``fc_cls``
  (things + background) and class-specific ``fc_reg``, no norm layers; CE and smooth-L1 (beta 1.0, summed
  over positives, divided by the sampled RoIs). Mask head 4 separable 3x3 convs -> 2x2 transposed conv +
  ReLU -> 1x1 -> 28x28 logits per class; BCE on the ground-truth class channel.

Labels inside this module are 1..num_things with 0 = background (the official ``cat2label``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection._utils import BalancedPositiveNegativeSampler

from model.boxes import IGNORED, assign_max_iou, batched_nms, box_iou, clip_boxes, decode_boxes, encode_boxes
from model.config import InstanceHeadConfig
from model.layers import SeparableConv, init_conv_norm
from model.norm import NormFactory
from model.roi_align import LevelRoIAlign

BOX_STDS = (0.1, 0.1, 0.2, 0.2)


class BoxHead(nn.Module):
    """Two shared FCs, then class logits and class-specific box deltas."""

    def __init__(self, in_features: int, fc_channels: int, num_labels: int) -> None:
        super().__init__()
        self.shared_fcs = nn.ModuleList([nn.Linear(in_features, fc_channels), nn.Linear(fc_channels, fc_channels)])
        self.fc_cls = nn.Linear(fc_channels, num_labels)
        self.fc_reg = nn.Linear(fc_channels, 4 * num_labels)
        for fc in self.shared_fcs:
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)
        nn.init.normal_(self.fc_cls.weight, std=0.01)
        nn.init.normal_(self.fc_reg.weight, std=0.001)
        nn.init.zeros_(self.fc_cls.bias)
        nn.init.zeros_(self.fc_reg.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: x: (R, C, 7, 7) pooled features. Returns: (R, L) logits, (R, 4L) deltas."""
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = torch.relu(fc(x))
        return self.fc_cls(x), self.fc_reg(x)


class MaskHead(nn.Module):
    """Official ``FCNSepMaskHead``: (R, C, 14, 14) features -> (R, L, 28, 28) mask logits."""

    def __init__(self, in_channels: int, channels: int, num_labels: int, norm: NormFactory) -> None:
        super().__init__()
        self.convs = nn.ModuleList(SeparableConv(in_channels if i == 0 else channels, channels, norm) for i in range(4))
        self.upsample = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.conv_logits = nn.Conv2d(channels, num_labels, 1)
        init_conv_norm(self)
        for m in (self.upsample, self.conv_logits):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = conv(x)
        return self.conv_logits(torch.relu(self.upsample(x)))


class RoIStage(nn.Module):
    """Box and mask branches: sampling and losses in training, detections and their mask logits at test."""

    def __init__(
        self, channels: int, num_things: int, strides: dict[str, int], cfg: InstanceHeadConfig, norm: NormFactory
    ) -> None:
        super().__init__()
        num_labels = num_things + 1
        self.box_roi_pool = LevelRoIAlign(strides, cfg.box_pool_size)
        self.box_head = BoxHead(channels * cfg.box_pool_size**2, cfg.fc_channels, num_labels)
        self.mask_roi_pool = LevelRoIAlign(strides, cfg.mask_pool_size)
        self.mask_head = MaskHead(channels, cfg.mask_channels, num_labels, norm)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(cfg.roi_batch_per_image, cfg.roi_positive_fraction)
        self.iou_thresh = cfg.roi_iou
        self.score_thresh, self.nms_thresh = cfg.score_thresh, cfg.nms_thresh
        self.detections_per_img = cfg.detections_per_image

    def forward(
        self,
        features: dict[str, torch.Tensor],
        proposals: list[torch.Tensor],
        image_sizes: list[tuple[int, int]],
        targets: list[dict[str, torch.Tensor]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Args:
            features: FPN maps keyed by level name.
            proposals: per image (P_i, 4) float inclusive corners, input pixels.
            image_sizes: unpadded (H, W) per image (detections are clipped to it).
            targets: training only; per image ``boxes`` (N, 4) inclusive corners, ``labels`` (N,) in
                1..num_things, ``masks`` (N, H, W) bool.

        Returns: in eval, the detections of all images concatenated: ``boxes`` (D, 4) inclusive corners,
        ``scores`` (D,), ``labels`` (D,) in 1..num_things, ``mask_logits`` (D, 28, 28) of the detected
        class and ``batch_index`` (D,); in training, the four RoI losses.
        """
        if self.training:
            if targets is None:
                raise ValueError("RoI heads need targets in training mode")
            return {}, self._losses(features, proposals, targets)
        logits, deltas = self.box_head(self.box_roi_pool(features, proposals))
        boxes, scores, labels = self._detections(logits, deltas, proposals, image_sizes)
        mask_logits = self._mask_logits(features, boxes)
        all_labels = torch.cat(labels)
        # sizes from tensor shapes, never len(): they stay symbolic when traced for ONNX
        picked = mask_logits[torch.arange(mask_logits.shape[0], device=mask_logits.device), all_labels]
        batch_index = torch.cat([torch.zeros_like(lab) + i for i, lab in enumerate(labels)])
        return {"boxes": torch.cat(boxes), "scores": torch.cat(scores), "labels": all_labels,
                "mask_logits": picked, "batch_index": batch_index}, {}

    def _detections(
        self, logits: torch.Tensor, deltas: torch.Tensor, proposals: list[torch.Tensor],
        image_sizes: list[tuple[int, int]],
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Per image: boxes (D_i, 4), scores (D_i,), labels (D_i,) in descending score (module docstring)."""
        out_boxes, out_scores, out_labels = [], [], []
        for boxes, scores, labels in self._candidates(logits, deltas, proposals, image_sizes):
            keep = self._select(boxes, scores, labels)
            out_boxes.append(boxes[keep])
            out_scores.append(scores[keep])
            out_labels.append(labels[keep])
        return out_boxes, out_scores, out_labels

    def _select(self, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Indices of the detections among candidates (N, 4), (N,), (N,): score > ``score_thresh`` (label 0,
        the placeholder of :meth:`slots`, always passes), NMS per label, the best ``detections_per_img``,
        in descending score."""
        keep = torch.where((scores > self.score_thresh) | (labels == 0))[0]
        return keep[batched_nms(boxes[keep], scores[keep], labels[keep], self.nms_thresh)[: self.detections_per_img]]

    def _candidates(
        self, logits: torch.Tensor, deltas: torch.Tensor, proposals: list[torch.Tensor],
        image_sizes: list[tuple[int, int]],
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per image, one candidate per proposal and thing class: decoded, clipped boxes (P_i * T, 4),
        softmax scores (P_i * T,) and labels (P_i * T,) in 1..T (T = num_things)."""
        num_labels = logits.shape[-1]
        per_image = [p.shape[0] for p in proposals]
        out = []
        for d, s, p, size in zip(deltas.split(per_image), F.softmax(logits.float(), -1).split(per_image), proposals,
                                 image_sizes):
            boxes = decode_boxes(d, p, BOX_STDS, size).reshape(-1, num_labels, 4)[:, 1:].reshape(-1, 4)
            labels = torch.arange(1, num_labels, device=s.device).expand(s.shape[0], -1).reshape(-1)
            out.append((boxes, s[:, 1:].reshape(-1), labels))
        return out

    def slots(
        self, features: dict[str, torch.Tensor], proposals: list[torch.Tensor], image_sizes: list[tuple[int, int]],
    ) -> dict[str, torch.Tensor]:
        """The detections of :meth:`forward` (eval) in K = ``detections_per_img`` fixed slots per image,
        with no empty tensor on the way (what the exported graph computes).

        One placeholder candidate is added per image (a one-pixel box at the origin, label 0, score -1): it
        always passes the score filter, no box of another label can suppress it and it sorts last, so no
        tensor is ever empty; the slots after the real detections repeat it. The mask head always runs on
        B * K boxes.

        Returns:
            ``boxes`` (B, K, 4) inclusive corners, ``scores`` (B, K), ``labels`` (B, K) in 1..num_things,
            ``mask_logits`` (B, K, 28, 28) of the detected class, ``num_detections`` (B,) int64: slots
            0..n-1 hold the detections in descending score, the rest are zeros (label 0).
        """
        k = self.detections_per_img
        logits, deltas = self.box_head(self.box_roi_pool(features, proposals))
        boxes, scores, labels, counts = [], [], [], []
        for b, s, lab in self._candidates(logits, deltas, proposals, image_sizes):
            b, s = torch.cat([b, b.new_zeros(1, 4)]), torch.cat([s, s.new_full((1,), -1.0)])
            lab = torch.cat([lab, lab.new_zeros(1)])
            order = self._select(b, s, lab)  # fewer than K detections: the placeholder comes last
            order = torch.cat([order, order[-1:].expand(k)])[:k]
            boxes.append(b[order])
            scores.append(s[order])
            labels.append(lab[order])
            counts.append((lab[order] > 0).sum())
        mask_logits = self.mask_head(self.mask_roi_pool(features, boxes))
        all_labels = torch.cat(labels)
        picked = mask_logits[torch.arange(mask_logits.shape[0], device=mask_logits.device), all_labels]
        num = torch.stack(counts)
        valid = torch.arange(k, device=num.device)[None] < num[:, None]  # (B, K)
        picked = picked.reshape(len(boxes), k, *picked.shape[-2:])
        return {"boxes": torch.where(valid[..., None], torch.stack(boxes), 0.0),
                "scores": torch.where(valid, torch.stack(scores), 0.0),
                "labels": torch.where(valid, torch.stack(labels), 0),
                "mask_logits": torch.where(valid[..., None, None], picked, 0.0), "num_detections": num}

    def _mask_logits(self, features: dict[str, torch.Tensor], boxes: list[torch.Tensor]) -> torch.Tensor:
        if not torch.jit.is_tracing() and sum(len(b) for b in boxes) == 0:
            # InPlaceABN rejects empty batches: skip the head, but keep its parameters in the graph
            # (zero gradient) so that DDP sees every parameter used.
            size = 2 * self.mask_roi_pool.output_size[0]
            zero = sum(p.sum() for p in self.mask_head.parameters()) * 0.0
            return zero + features[self.mask_roi_pool.featmap_names[0]].new_zeros(
                (0, self.mask_head.conv_logits.out_channels, size, size))
        return self.mask_head(self.mask_roi_pool(features, boxes))

    def _sample(
        self, proposals: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Per image: sampled RoIs (S, 4), their ground-truth index (S,), label (S,; 0 = background) and
        regression targets (S, 4) (module docstring)."""
        rois, assigned, labels = [], [], []
        for props, tgt in zip(proposals, targets):
            gt = tgt["boxes"].to(props.dtype)
            idx = assign_max_iou(box_iou(gt, props), self.iou_thresh, self.iou_thresh, self.iou_thresh)
            idx = torch.cat([torch.arange(len(gt), device=idx.device), idx])  # ground truth as its own proposal
            lab = torch.zeros_like(idx)
            if len(gt):
                lab = torch.where(idx >= 0, tgt["labels"][idx.clamp(min=0)], lab)
            lab[idx == IGNORED] = -1
            rois.append(torch.cat([gt, props]))
            assigned.append(idx)
            labels.append(lab)
        pos, neg = self.fg_bg_sampler(labels)
        sampled, gt_index, roi_labels, reg_targets = [], [], [], []
        for props, idx, lab, p, n, tgt in zip(rois, assigned, labels, pos, neg, targets):
            keep = torch.where(p | n)[0]
            gt_idx, props = idx[keep].clamp(min=0), props[keep]
            gt = tgt["boxes"].to(props.dtype)
            sampled.append(props)
            gt_index.append(gt_idx)
            roi_labels.append(lab[keep].clamp(min=0))
            reg_targets.append(encode_boxes(props, gt[gt_idx], BOX_STDS) if len(gt) else torch.zeros_like(props))
        return sampled, gt_index, roi_labels, reg_targets

    def _losses(
        self, features: dict[str, torch.Tensor], proposals: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        rois, gt_index, labels, regression_targets = self._sample(proposals, targets)
        logits, deltas = self.box_head(self.box_roi_pool(features, rois))
        all_labels = torch.cat(labels)
        loss_cls = F.cross_entropy(logits, all_labels)
        pos = torch.where(all_labels > 0)[0]
        deltas = deltas.reshape(len(deltas), -1, 4)[pos, all_labels[pos]]
        loss_box = F.smooth_l1_loss(deltas, torch.cat(regression_targets)[pos], beta=1.0, reduction="sum")
        loss_box = loss_box / max(all_labels.numel(), 1)

        pos_boxes = [r[lab > 0] for r, lab in zip(rois, labels)]
        pos_idx = [g[lab > 0] for g, lab in zip(gt_index, labels)]
        mask_logits = self._mask_logits(features, pos_boxes)
        if len(pos):
            size = mask_logits.shape[-1]
            mask_target = torch.cat([mask_targets(t["masks"], b, i, size) for t, b, i in zip(targets, pos_boxes, pos_idx)])
            gt_labels = torch.cat([lab[lab > 0] for lab in labels])
            chosen = mask_logits[torch.arange(len(gt_labels), device=gt_labels.device), gt_labels]
            loss_mask = F.binary_cross_entropy_with_logits(chosen, mask_target.to(chosen.dtype))
        else:
            loss_mask = mask_logits.sum() * 0.0
        return {"loss_roi_cls": loss_cls, "loss_roi_box": loss_box, "loss_mask": loss_mask}


def mask_targets(masks: torch.Tensor, boxes: torch.Tensor, gt_index: torch.Tensor, size: int) -> torch.Tensor:
    """Mask targets of positive RoIs as mmdet v1's ``mask_target`` makes them.

    Each box is clipped to ``[0, W - 1] x [0, H - 1]`` and truncated to integers; its ground-truth mask is
    cropped to pixels x1..x2, y1..y2 (at least one), resized bilinearly to ``size`` x ``size`` (pixel
    centres at +0.5, neighbours clamped to the crop) and binarised at 0.5.

    Args:
        masks: (N, H, W) bool ground-truth masks of one image.
        boxes: (P, 4) float inclusive corners of the RoIs.
        gt_index: (P,) int64 ground truth of each RoI.
        size: output side (28).

    Returns:
        (P, size, size) bool.
    """
    x1, y1, x2, y2 = clip_boxes(boxes, masks.shape[1:]).to(torch.int64).unbind(1)
    r_lo, r_hi, fy = _resize_taps(y1, (y2 - y1 + 1).clamp(min=1), size)
    c_lo, c_hi, fx = _resize_taps(x1, (x2 - x1 + 1).clamp(min=1), size)
    g = gt_index[:, None, None]

    def at(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return masks[g, rows[:, :, None], cols[:, None, :]].to(fx.dtype)

    fx, fy = fx[:, None, :], fy[:, :, None]
    top = (1 - fx) * at(r_lo, c_lo) + fx * at(r_lo, c_hi)
    bottom = (1 - fx) * at(r_hi, c_lo) + fx * at(r_hi, c_hi)
    return (1 - fy) * top + fy * bottom >= 0.5


def _resize_taps(start: torch.Tensor, length: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bilinear taps resizing spans [start, start + length) to ``size`` samples: (P, size) lower and upper
    source indices (absolute) and the weight of the upper one."""
    src = ((torch.arange(size, device=start.device) + 0.5)[None] * (length[:, None] / size) - 0.5).clamp(min=0)
    lo = src.floor()
    frac = src - lo
    lo = lo.to(torch.int64)
    hi = torch.minimum(lo + 1, length[:, None] - 1)
    return start[:, None] + lo, start[:, None] + hi, frac
