"""A frozen copy of the tracker ``segment`` used before the video metrics existed (same class only, greedy
mask IoU against a memory map, no motion model), kept only so that ``benchmarks/tracking.py`` can measure
it side by side with :mod:`efficientps_app.inference.tracking` on the same inputs. Not used by the product.

Stable instance ids across video frames by mask overlap with recent frames.

The tracker keeps a memory map at reduced resolution: each cell holds the track id last seen there and
when. A new frame's thing segments are matched to tracks of the same class by mask IoU (one joint
histogram for all pairs, then greedy by IoU); unmatched segments start new tracks, and tracks not seen
for ``max_age`` frames are forgotten, so an object hidden for a few frames keeps its id and colour.
"""

from __future__ import annotations

import numpy as np
import torch

from model.outputs import PanopticResult


class LegacyTracker:
    """Assigns ``track_id``s (1, 2, ...) to thing segments, frame after frame.

    Args:
        iou_thresh: minimum mask IoU to continue a track.
        max_age: frames a track survives without being matched.
        grid: the memory map is ``grid`` times smaller than the frame on each side.
    """

    def __init__(self, iou_thresh: float = 0.3, max_age: int = 8, grid: int = 4) -> None:
        self.iou_thresh, self.max_age, self.grid = iou_thresh, max_age, grid
        self._memory: np.ndarray | None = None  # (h, w) int64 track id, 0 = none
        self._seen: np.ndarray | None = None  # (h, w) int64 frame number of the memory cell
        self._category: dict[int, int] = {}
        self._next_id = 1
        self._frame = 0

    def update(self, result: PanopticResult) -> dict[int, int]:
        """Track ids of this frame's thing segments: ``{segment id: track id}``."""
        pan = result.panoptic.cpu().numpy() if isinstance(result.panoptic, torch.Tensor) else result.panoptic
        small = np.ascontiguousarray(pan[:: self.grid, :: self.grid]).astype(np.int64)
        things = [s for s in result.segments if s.is_thing]
        self._frame += 1
        if self._memory is None or self._memory.shape != small.shape:
            self._memory = np.zeros(small.shape, np.int64)
            self._seen = np.zeros(small.shape, np.int64)
        alive = self._frame - self._seen <= self.max_age
        memory = np.where(alive, self._memory, 0)
        assignment = self._match(small, memory, things)
        for seg in things:
            if seg.id not in assignment:
                assignment[seg.id] = self._next_id
                self._next_id += 1
            self._category[assignment[seg.id]] = seg.category_id
        lut = np.zeros(max((s.id for s in result.segments), default=0) + 1, np.int64)
        for sid, tid in assignment.items():
            lut[sid] = tid
        current = lut[np.clip(small, 0, len(lut) - 1)]
        here = current > 0
        self._memory = np.where(here, current, memory)
        self._seen = np.where(here, self._frame, self._seen)
        return assignment

    def _match(self, small: np.ndarray, memory: np.ndarray, things: list) -> dict[int, int]:
        if not things or not memory.any():
            return {}
        seg_ids = np.array([s.id for s in things])
        seg_lut = np.zeros(int(small.max()) + 1, np.int64)
        seg_lut[seg_ids] = np.arange(1, len(seg_ids) + 1)
        a = seg_lut[small].ravel()
        tracks, b = np.unique(memory.ravel(), return_inverse=True)  # tracks[0] == 0
        n_a, n_b = len(seg_ids) + 1, len(tracks)
        joint = np.bincount(a * n_b + b, minlength=n_a * n_b).reshape(n_a, n_b)
        inter = joint[1:, 1:].astype(np.float64)
        area_a, area_b = joint[1:].sum(1), joint[:, 1:].sum(0)
        iou = inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1)
        cats = np.array([s.category_id for s in things])
        track_cats = np.array([self._category.get(int(t), -1) for t in tracks[1:]])
        iou[cats[:, None] != track_cats[None, :]] = 0
        assignment: dict[int, int] = {}
        order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
        used_a, used_b = set(), set()
        for i, j in order:
            if iou[i, j] < self.iou_thresh:
                break
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            assignment[int(seg_ids[i])] = int(tracks[j + 1])
        return assignment
