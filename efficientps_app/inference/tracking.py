"""Stable instance ids across video frames by mask overlap with recent frames.

The tracker keeps a memory map at reduced resolution: each cell holds the track id last seen there and
when. A new frame's thing segments are matched to tracks of the same class by mask IoU (one joint
histogram for all pairs, then greedy by IoU); unmatched segments start new tracks, and tracks not seen
for ``max_age`` frames are forgotten, so an object hidden for a few frames keeps its id and colour.

The reset policy is decided here for every caller (``segment``, ``Predictor.stream``, the viewer): frames
of video and live sources are tracked (:func:`tracks`), and a frame that does not follow the previous one
in time (earlier, or more than ``max_gap_s`` later: a seek) starts the tracks afresh.
"""

from __future__ import annotations

import numpy as np

from efficientps_app.sources.frames import SourceKind
from model.outputs import PanopticResult, segment_table


def tracks(kind: SourceKind) -> bool:
    """Whether frames of this kind of source get track ids: video and live frames follow each other in
    time; the images of a folder do not."""
    return kind != "images"


class Tracker:
    """Assigns ``track_id``s (1, 2, ...) to thing segments, frame after frame.

    Args:
        iou_thresh: minimum mask IoU to continue a track.
        max_age: frames a track survives without being matched.
        grid: the memory map is ``grid`` times smaller than the frame on each side.
        max_gap_s: a frame more than this many seconds after the previous one (or before it) starts afresh.
    """

    def __init__(self, iou_thresh: float = 0.3, max_age: int = 8, grid: int = 4, max_gap_s: float = 1.0) -> None:
        self.iou_thresh, self.max_age, self.grid, self.max_gap_s = iou_thresh, max_age, grid, max_gap_s
        self._last_t: float | None = None
        self.reset()

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self._memory: np.ndarray | None = None  # (h, w) int64 track id, 0 = none
        self._seen: np.ndarray | None = None  # (h, w) int64 frame number of the memory cell
        self._category: dict[int, int] = {}
        self._next_id = 1
        self._frame = 0

    def update(self, result: PanopticResult, timestamp_s: float | None = None) -> dict[int, int]:
        """Track ids of this frame's thing segments: ``{segment id: track id}``.

        Args:
            result: the frame's result.
            timestamp_s: the frame's time (``FrameMeta.timestamp_s``); a jump resets the tracks.
        """
        if timestamp_s is not None and self._last_t is not None and not 0 < timestamp_s - self._last_t <= self.max_gap_s:
            self.reset()
        self._last_t = timestamp_s
        small = np.ascontiguousarray(result.panoptic.numpy()[:: self.grid, :: self.grid]).astype(np.int64)
        things = [s for s in result.segments if s.is_thing]
        self._frame += 1
        if self._memory is None or self._memory.shape != small.shape:
            self._memory = np.zeros(small.shape, np.int64)
            self._seen = np.zeros(small.shape, np.int64)
        alive = self._frame - self._seen <= self.max_age
        memory = np.where(alive, self._memory, 0)
        is_thing = np.array([s.is_thing for s in result.segments], bool)
        rank = segment_table(result, np.cumsum(is_thing) * is_thing)[small]  # i: things[i - 1], 0: none
        assignment = self._match(rank, memory, things)
        for seg in things:
            if seg.id not in assignment:
                assignment[seg.id] = self._next_id
                self._next_id += 1
            self._category[assignment[seg.id]] = seg.category_id
        current = segment_table(result, [assignment.get(s.id, 0) for s in result.segments])[small]
        here = current > 0
        self._memory = np.where(here, current, memory)
        self._seen = np.where(here, self._frame, self._seen)
        return assignment

    def _match(self, rank: np.ndarray, memory: np.ndarray, things: list) -> dict[int, int]:
        """``rank``: on the memory grid, i where ``things[i - 1]`` is, 0 elsewhere."""
        if not things or not memory.any():
            return {}
        seg_ids = np.array([s.id for s in things])
        a = rank.ravel()
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
