"""Typed model outputs. Results hold data only: drawing and saving live in the app's sinks.

The segment ids of a :class:`PanopticResult` are 1..K, contiguous and in the order of its segments; every
transformation of a result (:func:`select_segments`, resizing) keeps that, so a lookup table over segment
ids always has K + 1 rows and is built in one place, :func:`segment_table`. Results leave the GPU in one
place too, :func:`results_to_cpu`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
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


class DetectionSlots(NamedTuple):
    """Tensors-only network output with the detections in fixed-size slots: what ``forward_slots`` returns
    and what an exported ONNX model outputs (every tensor has a fixed size for a fixed input size).

    Attributes:
        sem_logits: (B, C, H, W) float semantic logits at input resolution.
        boxes: (B, K, 4) float inclusive corners, as in :class:`RawOutputs` (K = detections per image).
        scores: (B, K) float.
        labels: (B, K) int64 train ids of thing classes.
        mask_logits: (B, K, M, M) float.
        num_detections: (B,) int64: slots 0..n-1 of image b hold its detections in descending score; the
            other slots are padding (zeros, label -1) and mean nothing.
    """

    sem_logits: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    mask_logits: torch.Tensor
    num_detections: torch.Tensor

    def to_raw(self) -> RawOutputs:
        """The valid slots as :class:`RawOutputs` (image by image, in slot order)."""
        b, k = self.scores.shape
        valid = torch.arange(k, device=self.scores.device)[None] < self.num_detections[:, None]
        index = torch.arange(b, device=self.scores.device)[:, None].expand(b, k)
        return RawOutputs(self.sem_logits, self.boxes[valid], self.scores[valid], self.labels[valid],
                          self.mask_logits[valid], index[valid])


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

    Invariant: ``segments[i].id == i + 1``. Segment ids are 1..K, contiguous, in the order of ``segments``,
    and every pixel of ``panoptic`` is 0 (void) or one of them. Construction checks the ids of ``segments``
    (cheap); the pixels are the producer's promise.

    Attributes:
        panoptic: (H, W) int32 segment ids, 0 = void.
        segments: One entry per id 1..K (things first, as the fusion numbers them).
        semantic: (H, W) int64 per-pixel argmax of the semantic logits.
    """

    panoptic: torch.Tensor
    segments: tuple[Segment, ...]
    semantic: torch.Tensor

    def __post_init__(self) -> None:
        ids = [s.id for s in self.segments]
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"segment ids must be 1..{len(ids)} in order, got {ids[:20]}")


def segment_table(result: PanopticResult, values: Sequence, fill=0, dtype=np.int64) -> np.ndarray:
    """A lookup table over segment ids, so that ``table[panoptic]`` maps a whole id map at once.

    Args:
        result: whose segments index the table.
        values: one value (or row) per segment, in the order of ``result.segments``.
        fill: the value (or row) of void, id 0.
        dtype: the table's dtype.

    Returns:
        (K + 1,) or (K + 1, C) array with ``table[0] = fill`` and ``table[s.id] = values[s.id - 1]``.
    """
    table = np.full((len(result.segments) + 1, *np.shape(fill)), fill, dtype)
    if len(result.segments):
        table[1:] = np.asarray(values, dtype).reshape(len(result.segments), *np.shape(fill))
    return table


def results_to_cpu(results: Sequence[PanopticResult]) -> list[PanopticResult]:
    """Same-size results (one batch) on the CPU, in one copy. Where inference ends (the app's predictor,
    evaluation) results leave the GPU once; whatever reads them afterwards (tracker, renderer, writers,
    viewer) uses them as numpy arrays (``result.panoptic.numpy()``)."""
    if not results or results[0].panoptic.device.type == "cpu":
        return list(results)
    maps = torch.stack([torch.stack([r.panoptic.long(), r.semantic.long()]) for r in results]).cpu()
    return [replace(r, panoptic=m[0].int(), semantic=m[1]) for r, m in zip(results, maps)]


def select_segments(result: PanopticResult, keep: Sequence[bool]) -> PanopticResult:
    """The result with only the segments where ``keep`` is true (one flag per segment), renumbered 1..K' in
    their order; the pixels of the others become void (0). The semantic map is unchanged."""
    keep = [bool(k) for k in keep]
    if all(keep):
        return result
    new_ids = np.cumsum(keep) * np.asarray(keep, np.int64)
    table = torch.from_numpy(segment_table(result, new_ids, dtype=np.int32)).to(result.panoptic.device)
    segments = tuple(replace(s, id=int(n)) for s, n, k in zip(result.segments, new_ids, keep) if k)
    return PanopticResult(table[result.panoptic.long()], segments, result.semantic)
