"""RoI stage (SPEC section 5.2) on torchvision's ``RoIHeads``: box head and mask head.

torchvision supplies proposal-to-ground-truth matching (IoU 0.5), random sampling (256 RoIs, 25 %
positive, ground truth added as proposals), RoIAlign over the FPN levels (7x7 box, 14x14 mask, sampling
ratio 2, not aligned, level = floor(log2(sqrt(area) / 56)) clamped to P4..P32), class-specific box
decoding (weights 10, 10, 5, 5) and per-class NMS. The heads and losses are the official ones:

- box head: flatten -> FC 1024 -> ReLU -> FC 1024 -> ReLU -> ``fc_cls`` (things + background) and
  class-specific ``fc_reg``; no norm layers. Losses: CE and smooth-L1 with beta 1.0.
- mask head: 4 separable 3x3 convs -> 2x2 transposed conv + ReLU -> 1x1 -> 28x28 logits per class.
  Loss: BCE on the ground-truth class channel against the binarised projected mask.

Labels inside this module are 1..num_things with 0 = background (the official ``cat2label``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.roi_heads import RoIHeads, project_masks_on_boxes
from torchvision.ops import MultiScaleRoIAlign, roi_align
from torchvision.ops.poolers import _convert_to_roi_format, _setup_scales

from model.config import InstanceHeadConfig
from model.layers import SeparableConv, init_conv_norm
from model.norm import NormFactory


class LevelRoIAlign(MultiScaleRoIAlign):
    """torchvision's ``MultiScaleRoIAlign`` (same level mapping and sampling) with a cheaper merge of the
    levels: each level pools its RoIs, the results are concatenated and put back in RoI order with one
    gather. torchvision's traced path scatters every level into a zero tensor of the full output size,
    which dominated ONNX Runtime's time (4 ScatterElements over 1000x256x7x7); this is one code path for
    eager and export, with identical results."""

    def forward(self, x: dict[str, torch.Tensor], boxes: list[torch.Tensor],  # type: ignore[override]
                image_shapes: list[tuple[int, int]]) -> torch.Tensor:
        feats = [x[k] for k in self.featmap_names]
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(feats, image_shapes, self.canonical_scale,
                                                         self.canonical_level)
        rois = _convert_to_roi_format(boxes)
        levels = self.map_levels(boxes)
        pooled, order = [], []
        for level, (feat, scale) in enumerate(zip(feats, self.scales)):
            idx = torch.where(levels == level)[0]
            pooled.append(roi_align(feat, rois[idx], self.output_size, spatial_scale=scale,
                                    sampling_ratio=self.sampling_ratio))
            order.append(idx)
        return torch.cat(pooled)[torch.argsort(torch.cat(order))]


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


class RoIStage(RoIHeads):
    """Box and mask branches with torchvision's sampling, pooling and post-processing."""

    def __init__(
        self, channels: int, num_things: int, levels: list[str], cfg: InstanceHeadConfig, norm: NormFactory
    ) -> None:
        num_labels = num_things + 1
        super().__init__(
            box_roi_pool=LevelRoIAlign(levels, cfg.box_pool_size, sampling_ratio=2),
            box_head=BoxHead(channels * cfg.box_pool_size**2, cfg.fc_channels, num_labels),
            box_predictor=None,
            fg_iou_thresh=cfg.roi_iou,
            bg_iou_thresh=cfg.roi_iou,
            batch_size_per_image=cfg.roi_batch_per_image,
            positive_fraction=cfg.roi_positive_fraction,
            bbox_reg_weights=(10.0, 10.0, 5.0, 5.0),
            score_thresh=cfg.score_thresh,
            nms_thresh=cfg.nms_thresh,
            detections_per_img=cfg.detections_per_image,
            mask_roi_pool=LevelRoIAlign(levels, cfg.mask_pool_size, sampling_ratio=2),
            mask_head=MaskHead(channels, cfg.mask_channels, num_labels, norm),
            mask_predictor=None,
        )

    def forward(  # type: ignore[override]
        self,
        features: dict[str, torch.Tensor],
        proposals: list[torch.Tensor],
        batch_shape: tuple[int, int],
        image_sizes: list[tuple[int, int]],
        targets: list[dict[str, torch.Tensor]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Args:
            features: FPN maps keyed by level name.
            proposals: per image (P_i, 4) xyxy boxes in input pixels.
            batch_shape: (H, W) of the padded batch (sets the RoIAlign scales).
            image_sizes: unpadded (H, W) per image (boxes are clipped to it).
            targets: training only; per image ``boxes`` (N, 4), ``labels`` (N,) in 1..num_things,
                ``masks`` (N, H, W) bool.

        Returns: in eval, the detections of all images concatenated: ``boxes`` (D, 4), ``scores`` (D,),
        ``labels`` (D,) in 1..num_things, ``mask_logits`` (D, 28, 28) of the detected class and
        ``batch_index`` (D,); in training, the four RoI losses.
        """
        pool_shapes = [batch_shape] * len(proposals)
        if self.training:
            if targets is None:
                raise ValueError("RoI heads need targets in training mode")
            return {}, self._losses(features, proposals, pool_shapes, targets)
        logits, deltas = self.box_head(self.box_roi_pool(features, proposals, pool_shapes))
        boxes, scores, labels = self.postprocess_detections(logits, deltas, proposals, image_sizes)
        mask_logits = self._mask_logits(features, boxes, pool_shapes)
        all_labels = torch.cat(labels)
        # sizes from tensor shapes, never len(): they stay symbolic when traced for ONNX
        picked = mask_logits[torch.arange(mask_logits.shape[0], device=mask_logits.device), all_labels]
        batch_index = torch.cat([torch.zeros_like(lab) + i for i, lab in enumerate(labels)])
        return {"boxes": torch.cat(boxes), "scores": torch.cat(scores), "labels": all_labels,
                "mask_logits": picked, "batch_index": batch_index}, {}

    def _mask_logits(
        self, features: dict[str, torch.Tensor], boxes: list[torch.Tensor], pool_shapes: list[tuple[int, int]]
    ) -> torch.Tensor:
        if not torch.jit.is_tracing() and sum(len(b) for b in boxes) == 0:
            # InPlaceABN rejects empty batches: skip the head, but keep its parameters in the graph
            # (zero gradient) so that DDP sees every parameter used.
            size = 2 * self.mask_roi_pool.output_size[0]
            zero = sum(p.sum() for p in self.mask_head.parameters()) * 0.0
            return zero + features[self.mask_roi_pool.featmap_names[0]].new_zeros(
                (0, self.mask_head.conv_logits.out_channels, size, size))
        return self.mask_head(self.mask_roi_pool(features, boxes, pool_shapes))

    def _losses(
        self,
        features: dict[str, torch.Tensor],
        proposals: list[torch.Tensor],
        pool_shapes: list[tuple[int, int]],
        targets: list[dict[str, torch.Tensor]],
    ) -> dict[str, torch.Tensor]:
        proposals, matched_idxs, labels, regression_targets = self.select_training_samples(proposals, targets)
        logits, deltas = self.box_head(self.box_roi_pool(features, proposals, pool_shapes))
        all_labels = torch.cat(labels)
        loss_cls = F.cross_entropy(logits, all_labels)
        pos = torch.where(all_labels > 0)[0]
        deltas = deltas.reshape(len(deltas), -1, 4)[pos, all_labels[pos]]
        loss_box = F.smooth_l1_loss(deltas, torch.cat(regression_targets)[pos], beta=1.0, reduction="sum")
        loss_box = loss_box / max(all_labels.numel(), 1)

        pos_boxes = [p[lab > 0] for p, lab in zip(proposals, labels)]
        pos_idx = [m[lab > 0] for m, lab in zip(matched_idxs, labels)]
        mask_logits = self._mask_logits(features, pos_boxes, pool_shapes)
        mask_targets = [
            project_masks_on_boxes(t["masks"], b, i, mask_logits.shape[-1]) >= 0.5
            for t, b, i in zip(targets, pos_boxes, pos_idx)
            if len(b)
        ]
        if mask_targets:
            gt_labels = torch.cat([t["labels"][i] for t, i in zip(targets, pos_idx)])
            chosen = mask_logits[torch.arange(len(gt_labels), device=gt_labels.device), gt_labels]
            loss_mask = F.binary_cross_entropy_with_logits(chosen, torch.cat(mask_targets).to(chosen.dtype))
        else:
            loss_mask = mask_logits.sum() * 0.0
        return {"loss_roi_cls": loss_cls, "loss_roi_box": loss_box, "loss_mask": loss_mask}
