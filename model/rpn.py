"""Region proposal network (SPEC section 5.1) on torchvision's ``RegionProposalNetwork``.

torchvision supplies proposal filtering (per-level top-n, NMS 0.7, merged top-n), the box coder, the
sampler and the losses (BCE objectness, smooth-L1 beta 1/9, averaged over sampled anchors). We plug in
the official head and reproduce the official code where torchvision differs:

- anchors are mmdet-v1's (base size = stride, scale 8, centre (stride - 1) / 2, rounded);
- anchors that cross the image border are ignored in training (``allowed_border=0``);
- each ground-truth box additionally claims its best anchors only if their IoU >= 0.3 (``min_pos_iou``),
  the later box winning ties, as mmdet's MaxIoUAssigner does.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, concat_box_prediction_layers
from torchvision.ops import box_iou

from model.config import InstanceHeadConfig

RPN_MIN_POS_IOU = 0.3


class RPNHead(nn.Module):
    """Official RPN head: plain 3x3 conv (with bias) + ReLU, then 1x1 objectness and 1x1 box deltas."""

    def __init__(self, channels: int, num_anchors: int) -> None:
        super().__init__()
        self.rpn_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(channels, num_anchors, 1)
        self.rpn_reg = nn.Conv2d(channels, 4 * num_anchors, 1)
        for conv in (self.rpn_conv, self.rpn_cls, self.rpn_reg):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Returns per level: objectness (B, A, H, W) and deltas (B, 4A, H, W)."""
        hidden = [torch.relu(self.rpn_conv(f)) for f in feats]
        return [self.rpn_cls(h) for h in hidden], [self.rpn_reg(h) for h in hidden]


class MMDetAnchorGenerator(AnchorGenerator):
    """torchvision's anchor grid with mmdet-v1 base anchors (centred at (stride - 1) / 2, inclusive)."""

    def __init__(self, strides: tuple[int, ...], scale: float, ratios: tuple[float, ...]) -> None:
        self.anchor_scale = scale
        super().__init__(sizes=tuple((s * scale,) for s in strides), aspect_ratios=(ratios,) * len(strides))

    def generate_anchors(
        self, scales: list[int] | tuple, aspect_ratios: list[float] | tuple,
        dtype: torch.dtype = torch.float32, device: torch.device | None = None,
    ) -> torch.Tensor:
        sizes = torch.as_tensor(scales, dtype=dtype, device=device)
        ratios = torch.as_tensor(aspect_ratios, dtype=dtype, device=device)
        base = sizes[0] / self.anchor_scale  # = stride
        ctr = 0.5 * (base - 1)
        h_ratios = torch.sqrt(ratios)
        ws = (sizes[None, :] / h_ratios[:, None]).reshape(-1)
        hs = (sizes[None, :] * h_ratios[:, None]).reshape(-1)
        anchors = torch.stack([ctr - 0.5 * (ws - 1), ctr - 0.5 * (hs - 1), ctr + 0.5 * (ws - 1), ctr + 0.5 * (hs - 1)], 1)
        return anchors.round()


class RPN(RegionProposalNetwork):
    """torchvision RPN with the official head, anchors and anchor assignment."""

    def __init__(self, head: RPNHead, strides: tuple[int, ...], cfg: InstanceHeadConfig) -> None:
        super().__init__(
            MMDetAnchorGenerator(strides, cfg.anchor_scale, cfg.anchor_ratios),
            head,
            fg_iou_thresh=cfg.rpn_fg_iou,
            bg_iou_thresh=cfg.rpn_bg_iou,
            batch_size_per_image=cfg.rpn_batch_per_image,
            positive_fraction=cfg.rpn_positive_fraction,
            pre_nms_top_n={"training": cfg.rpn_pre_nms_train, "testing": cfg.rpn_pre_nms_test},
            post_nms_top_n={"training": cfg.rpn_post_nms_train, "testing": cfg.rpn_post_nms_test},
            nms_thresh=cfg.rpn_nms_thresh,
        )
        self.proposal_matcher.allow_low_quality_matches = False  # done mmdet-style in _match

    def forward(  # type: ignore[override]
        self,
        images: ImageList,
        features: dict[str, torch.Tensor],
        targets: list[dict[str, torch.Tensor]] | None = None,
    ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """Args:
            images: the padded batch; ``image_sizes`` are the unpadded (H, W) per image.
            features: FPN maps, fine to coarse.
            targets: per image ``boxes`` (N, 4) xyxy pixels; training only.

        Returns: proposals per image (P_i, 4), and ``loss_rpn_objectness``/``loss_rpn_box`` in training.
        """
        feats = list(features.values())
        objectness, deltas = self.head(feats)
        anchors = self.anchor_generator(images, feats)
        per_level = [o[0].numel() for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = self.box_coder.decode(deltas.detach(), anchors).view(len(anchors), -1, 4)
        boxes, _ = self.filter_proposals(proposals, objectness, images.image_sizes, per_level)
        if not self.training:
            return boxes, {}
        if targets is None:
            raise ValueError("RPN needs targets in training mode")
        labels, matched = self._assign(anchors, targets, images.image_sizes)
        regression_targets = self.box_coder.encode(matched, anchors)
        loss_obj, loss_box = self.compute_loss(objectness, deltas, labels, regression_targets)
        return boxes, {"loss_rpn_objectness": loss_obj, "loss_rpn_box": loss_box}

    def _assign(
        self, anchors: list[torch.Tensor], targets: list[dict[str, torch.Tensor]], sizes: list[tuple[int, int]]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per image: labels (A,) 1 = fg, 0 = bg, -1 = ignore; matched gt boxes (A, 4)."""
        labels, matched_boxes = [], []
        for anc, tgt, (h, w) in zip(anchors, targets, sizes):
            gt = tgt["boxes"].to(anc.dtype)
            inside = (anc[:, 0] >= 0) & (anc[:, 1] >= 0) & (anc[:, 2] < w) & (anc[:, 3] < h)
            lab = torch.zeros(len(anc), dtype=anc.dtype, device=anc.device)
            box = torch.zeros_like(anc)
            if gt.numel():
                iou = box_iou(gt, anc)
                iou[:, ~inside] = -1.0  # outside anchors never match and never claim a ground truth
                idx = self._match(iou)
                box = gt[idx.clamp(min=0)]
                lab = (idx >= 0).to(anc.dtype)
                lab[idx == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1.0
            lab[~inside] = -1.0
            labels.append(lab)
            matched_boxes.append(box)
        return labels, matched_boxes

    def _match(self, iou: torch.Tensor) -> torch.Tensor:
        matched = self.proposal_matcher(iou)  # thresholds 0.7 / 0.3 without low-quality matches
        best = iou.max(dim=1).values
        for g in range(iou.shape[0]):  # later ground truths win ties, as in mmdet
            if best[g] >= RPN_MIN_POS_IOU:
                matched[iou[g] == best[g]] = g
        return matched
