"""Typed model outputs. Results hold data only: drawing and saving live in the app's sinks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


class RawOutputs(NamedTuple):
    """Tensors-only network output: what ``forward_raw`` returns and what ONNX exports.

    Detections of all images are concatenated; ``batch_index`` says which image each belongs to.

    Attributes:
        sem_logits: (B, C, H, W) float semantic logits at input resolution.
        boxes: (N, 4) float xyxy boxes in input pixels, mmdet's inclusive corners (x2, y2 are the last
            pixel covered: a box of one pixel has x1 == x2), in [0, W - 1] x [0, H - 1].
        scores: (N,) float detection scores in (0, 1].
        labels: (N,) int64 class ids (train ids of thing classes).
        mask_logits: (N, M, M) float mask logits of each detection's class (M = 28).
        batch_index: (N,) int64 image index of each detection.
    """

    sem_logits: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    mask_logits: torch.Tensor
    batch_index: torch.Tensor


@dataclass(frozen=True)
class Segment:
    """One panoptic segment.

    Attributes:
        id: Value of the segment's pixels in ``PanopticResult.panoptic`` (>= 1).
        category_id: Class id (train id, 0..C-1).
        is_thing: True for an instance of a thing class.
        score: Detection score for things; None for stuff.
        area: Number of pixels.
        bbox: (x, y, width, height) of the segment's pixels, COCO style, in pixels.
    """

    id: int
    category_id: int
    is_thing: bool
    score: float | None
    area: int
    bbox: tuple[int, int, int, int]


@dataclass(frozen=True)
class PanopticResult:
    """Panoptic segmentation of one image.

    Attributes:
        panoptic: (H, W) int32 segment ids, 0 = void.
        segments: One entry per id present in ``panoptic`` (except 0), things first.
        semantic: (H, W) int64 per-pixel argmax of the semantic logits.
    """

    panoptic: torch.Tensor
    segments: tuple[Segment, ...]
    semantic: torch.Tensor
