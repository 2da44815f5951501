"""EfficientPS: wires backbone, 2-way FPN, semantic head and instance head together.

Interfaces: images are (B, 3, H, W) float RGB in [0, 1] of any size (normalised and padded to a
multiple of 32 inside, outputs cropped back). Training ``forward(images, targets)`` returns named
losses; eval ``forward(images)`` returns one :class:`PanopticResult` per image; ``forward_raw`` returns
tensors only (what ONNX exports).

Normalisation is the authors' arithmetic: ``(255 x - mean) / std`` per channel on the 0-255 scale, in
float32. For an 8-bit image (x = v / 255) ``255 x`` is exactly v again, so the network sees bit for bit
what mmcv's ``(img - mean) / std`` gives it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.image_list import ImageList

from model.backbone import EfficientNetBackbone
from model.boxes import inclusive_corners
from model.classes import VOID_ID
from model.config import EfficientPSConfig
from model.fpn import LEVELS, TwoWayFPN
from model.fusion import fuse_panoptic
from model.norm import norm_factory
from model.outputs import DetectionSlots, PanopticResult, RawOutputs
from model.roi_heads import RoIStage
from model.rpn import RPN, RPNHead
from model.semantic_head import SemanticHead

Target = dict[str, torch.Tensor]


class EfficientPS(nn.Module):
    """The EfficientPS network. Build it with :func:`build_efficientps`."""

    def __init__(
        self,
        cfg: EfficientPSConfig,
        backbone: EfficientNetBackbone,
        fpn: TwoWayFPN,
        semantic_head: SemanticHead,
        rpn: RPN,
        roi_heads: RoIStage,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone, self.fpn, self.semantic_head = backbone, fpn, semantic_head
        self.rpn, self.roi_heads = rpn, roi_heads
        # RGB, 0-255 scale (module docstring)
        self.register_buffer("pixel_mean", torch.tensor(cfg.pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(cfg.pixel_std).view(1, 3, 1, 1), persistent=False)

    def forward(
        self, images: torch.Tensor, targets: list[Target] | None = None
    ) -> dict[str, torch.Tensor] | list[PanopticResult]:
        """Training: per-image targets (``boxes`` (N, 4) float xyxy pixel edges, i.e. a box covering pixel
        columns 3..5 spans x 3.0 to 6.0; ``labels`` (N,) thing train ids; ``masks`` (N, H, W) bool;
        ``semantic`` (H, W) int64 with 255 = void) -> dict of the six losses. The instance branch works
        on mmdet's inclusive corners, ``boxes - (0, 0, 1, 1)`` (:mod:`model.boxes`).
        Eval: one :class:`PanopticResult` per image at input resolution."""
        if self.training:
            if targets is None:
                raise ValueError("EfficientPS needs targets in training mode")
            return self._losses(images, targets)
        raw = self.forward_raw(images)
        return [self.fuse(raw, i) for i in range(images.shape[0])]

    def forward_raw(self, images: torch.Tensor) -> RawOutputs:
        """Tensors-only inference (no fusion). See :class:`RawOutputs` for shapes."""
        batch, sizes = self._prepare(images)
        feats = self.fpn(self.backbone(batch.tensors))
        # cropped to the image, not stretched as in the official code (see model.fusion: deliberate differences)
        sem = self.semantic_head(feats)[..., : images.shape[-2], : images.shape[-1]]
        proposals, _ = self.rpn(batch, feats)
        dets, _ = self.roi_heads(feats, proposals, sizes)
        offset = self.cfg.num_stuff - 1  # RoI labels 1..num_things -> train ids
        return RawOutputs(sem_logits=sem, boxes=dets["boxes"], scores=dets["scores"], labels=dets["labels"] + offset,
                          mask_logits=dets["mask_logits"], batch_index=dets["batch_index"])

    def forward_slots(self, images: torch.Tensor) -> DetectionSlots:
        """``forward_raw`` with the detections in fixed-size slots and no empty tensor inside (what
        ``export-onnx`` traces): ``forward_slots(x).to_raw()`` holds the detections of ``forward_raw(x)``."""
        batch, sizes = self._prepare(images)
        feats = self.fpn(self.backbone(batch.tensors))
        sem = self.semantic_head(feats)[..., : images.shape[-2], : images.shape[-1]]
        proposals, _ = self.rpn(batch, feats)
        dets = self.roi_heads.slots(feats, proposals, sizes)
        labels = torch.where(dets["labels"] > 0, dets["labels"] + (self.cfg.num_stuff - 1), -1)
        return DetectionSlots(sem, dets["boxes"], dets["scores"], labels, dets["mask_logits"], dets["num_detections"])

    def fuse(self, raw: RawOutputs, index: int) -> PanopticResult:
        """Panoptic fusion of image ``index`` of a :class:`RawOutputs` batch."""
        sel = raw.batch_index == index
        return fuse_panoptic(
            raw.sem_logits[index], raw.boxes[sel], raw.labels[sel], raw.scores[sel], raw.mask_logits[sel],
            self.cfg.fusion, self.cfg.num_stuff,
        )

    def _prepare(self, images: torch.Tensor) -> tuple[ImageList, list[tuple[int, int]]]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        x = (images * 255 - self.pixel_mean.to(images.dtype)) / self.pixel_std.to(images.dtype)
        h, w = images.shape[-2:]
        d = self.cfg.size_divisor
        x = F.pad(x, (0, (-w) % d, 0, (-h) % d))
        sizes = [(h, w)] * images.shape[0]  # no int(): stays symbolic when traced for ONNX
        return ImageList(x, sizes), sizes

    def _losses(self, images: torch.Tensor, targets: list[Target]) -> dict[str, torch.Tensor]:
        batch, sizes = self._prepare(images)
        feats = self.fpn(self.backbone(batch.tensors))
        sem_logits = self.semantic_head(feats)
        ph, pw = sem_logits.shape[-2:]
        h, w = images.shape[-2:]
        sem_target = torch.stack([t["semantic"] for t in targets]).long()
        sem_target = F.pad(sem_target, (0, pw - w, 0, ph - h), value=VOID_ID)
        losses = {"loss_semantic": self.semantic_head.loss(sem_logits, sem_target)}
        for i, t in enumerate(targets):
            wh = t["boxes"][:, 2:] - t["boxes"][:, :2]
            if (wh <= 0).any():
                bad = t["boxes"][(wh <= 0).any(1)][0].tolist()
                raise ValueError(f"target {i}: boxes need positive width and height (pixel-edge xyxy), got {bad}")
        offset = self.cfg.num_stuff - 1
        inst_targets = [
            {"boxes": inclusive_corners(t["boxes"].float()), "labels": t["labels"].long() - offset,
             "masks": t["masks"]} for t in targets
        ]
        proposals, rpn_losses = self.rpn(batch, feats, inst_targets)
        _, roi_losses = self.roi_heads(feats, proposals, sizes, inst_targets)
        return losses | rpn_losses | roi_losses


def build_efficientps(cfg: EfficientPSConfig) -> EfficientPS:
    """Build an EfficientPS network from a config (random initialisation as in the official code)."""
    norm = norm_factory(cfg.norm, eps=1e-5)
    backbone = EfficientNetBackbone(cfg.backbone, cfg.norm)
    fpn = TwoWayFPN(backbone.out_channels, cfg.fpn, norm)
    c = cfg.fpn.channels
    semantic_head = SemanticHead(c, cfg.num_classes, cfg.semantic, norm)
    num_anchors = len(cfg.instance.anchor_ratios)
    rpn = RPN(RPNHead(c, num_anchors), tuple(EfficientNetBackbone.strides[k] for k in LEVELS), cfg.instance)
    roi_heads = RoIStage(c, cfg.num_things, {k: EfficientNetBackbone.strides[k] for k in LEVELS}, cfg.instance, norm)
    return EfficientPS(cfg, backbone, fpn, semantic_head, rpn, roi_heads)
