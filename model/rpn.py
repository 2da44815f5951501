"""Region proposal network (SPEC section 5.1) on torchvision's ``RegionProposalNetwork``.

torchvision supplies the anchor grid, the per-level top-n selection, the sampler (256 anchors, half
positive) and the losses (BCE objectness, smooth-L1 beta 1/9, averaged over the sampled anchors). The rest
follows the official code (mmdet v1, box arithmetic in :mod:`model.boxes`):

- anchors are mmdet-v1's (base size = stride, scale 8, centre (stride - 1) / 2, rounded, inclusive corners);
- proposals, per image and level: the ``pre_nms_top_n`` best anchors by objectness, decoded (stds 1) and
  clipped to ``[0, W - 1] x [0, H - 1]``, NMS 0.7 with +1 areas, at most ``post_nms_top_n`` kept; then the
  levels merged and the best ``post_nms_top_n`` kept (the official ``nms_post`` and ``max_num`` are equal).
  No box is removed for its size, none for its score;
- anchors that cross the image border are ignored in training (``allowed_border=0``); assignment is mmdet's
  MaxIoUAssigner (IoU with +1 areas, >= 0.7 positive, < 0.3 negative, each ground truth claims its best
  anchors when their IoU is >= 0.3, the later box winning ties); regression targets are encoded with +1
  widths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, concat_box_prediction_layers

from model.boxes import IGNORED, assign_max_iou, batched_nms, box_iou, decode_boxes, encode_boxes
from model.config import InstanceHeadConfig

RPN_MIN_POS_IOU = 0.3
RPN_STDS = (1.0, 1.0, 1.0, 1.0)


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

    def set_cell_anchors(self, dtype: torch.dtype, device: torch.device) -> None:
        """Anchors are float32 whatever the feature maps' dtype (box arithmetic: see model.boxes)."""
        super().set_cell_anchors(torch.float32, device)

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
    """torchvision RPN with the official head, anchors, proposal filtering and anchor assignment."""

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
        self.iou_thresholds = (cfg.rpn_fg_iou, cfg.rpn_bg_iou)  # torchvision's proposal_matcher is unused

    def forward(  # type: ignore[override]
        self,
        images: ImageList,
        features: dict[str, torch.Tensor],
        targets: list[dict[str, torch.Tensor]] | None = None,
    ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """Args:
            images: the padded batch; ``image_sizes`` are the unpadded (H, W) per image.
            features: FPN maps, fine to coarse.
            targets: per image ``boxes`` (N, 4) float inclusive corners; training only.

        Returns: proposals per image (P_i, 4) inclusive corners, and ``loss_rpn_objectness``/``loss_rpn_box``
        in training.
        """
        feats = list(features.values())
        objectness, deltas = self.head(feats)
        anchors = self.anchor_generator(images, feats)
        per_level = [o[0].numel() for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        boxes = self.proposals(anchors, objectness.detach(), deltas.detach(), images.image_sizes, per_level)
        if not self.training:
            return boxes, {}
        if targets is None:
            raise ValueError("RPN needs targets in training mode")
        labels, matched = self._assign(anchors, targets, images.image_sizes)
        regression_targets = [encode_boxes(a, m, RPN_STDS) for a, m in zip(anchors, matched)]
        loss_obj, loss_box = self.compute_loss(objectness, deltas, labels, regression_targets)
        return boxes, {"loss_rpn_objectness": loss_obj, "loss_rpn_box": loss_box}

    def proposals(
        self,
        anchors: list[torch.Tensor],
        objectness: torch.Tensor,
        deltas: torch.Tensor,
        image_sizes: list[tuple[int, int]],
        per_level: list[int],
    ) -> list[torch.Tensor]:
        """Proposals of each image (the rule in the module docstring).

        Args:
            anchors: per image (A, 4) inclusive corners, levels concatenated fine to coarse.
            objectness: (B * A, 1) logits; deltas: (B * A, 4), in the order of ``anchors``.
            image_sizes: unpadded (H, W) per image (the clip limits).
            per_level: anchors per image on each level.

        Returns:
            Per image (P_i, 4) float inclusive corners in descending objectness, P_i <= ``post_nms_top_n``.
        """
        num_images = len(anchors)
        objectness = objectness.reshape(num_images, -1)
        deltas = deltas.reshape(num_images, -1, 4)
        top = self._get_top_n_idx(objectness, per_level)  # (B, K): the best pre_nms_top_n of each level
        levels = torch.cat([torch.full((n,), i, dtype=torch.int64, device=top.device) for i, n in enumerate(per_level)])
        post = self.post_nms_top_n()
        out = []
        for i in range(num_images):
            idx, lvl = top[i], levels[top[i]]
            scores = torch.sigmoid(objectness[i, idx])
            boxes = decode_boxes(deltas[i, idx], anchors[i][idx], RPN_STDS, image_sizes[i])
            keep = batched_nms(boxes, scores, lvl, self.nms_thresh)  # descending score
            if self.pre_nms_top_n() > post:  # the per-level cap only bites when more enter NMS than may leave
                onehot = F.one_hot(lvl[keep], len(per_level))
                keep = keep[(onehot.cumsum(0) * onehot).sum(1) <= post]
            out.append(boxes[keep[:post]])
        return out

    def _assign(
        self, anchors: list[torch.Tensor], targets: list[dict[str, torch.Tensor]], sizes: list[tuple[int, int]]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per image: labels (A,) 1 = fg, 0 = bg, -1 = ignore; matched gt boxes (A, 4)."""
        labels, matched_boxes = [], []
        for anc, tgt, (h, w) in zip(anchors, targets, sizes):
            gt = tgt["boxes"].to(anc.dtype)
            inside = (anc[:, 0] >= 0) & (anc[:, 1] >= 0) & (anc[:, 2] < w) & (anc[:, 3] < h)
            iou = box_iou(gt, anc)
            iou[:, ~inside] = -1.0  # outside anchors never match and never claim a ground truth
            idx = assign_max_iou(iou, *self.iou_thresholds, RPN_MIN_POS_IOU)
            lab = (idx >= 0).to(anc.dtype)
            lab[(idx == IGNORED) | ~inside] = -1.0
            labels.append(lab)
            matched_boxes.append(gt[idx.clamp(min=0)] if len(gt) else torch.zeros_like(anc))
        return labels, matched_boxes
