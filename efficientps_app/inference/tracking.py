"""Stable instance ids across video frames: motion-predicted masks, class groups, one-to-one assignment.

Each track remembers its last mask (at reduced resolution), its box and the box's velocity (pixels per
frame, smoothed). For a new frame, every live track's mask is moved and scaled to where the velocity
says its box is now, and compared with the frame's thing segments by mask IoU. A track and a segment may
match only within one class group (car/truck/bus/train, person/rider, bicycle/motorcycle, every other
class alone), so a car seen as a truck for a frame keeps its id; the pairs are chosen one to one by
SciPy's ``linear_sum_assignment`` (Hungarian method). Tracks and segments left over are then paired by
the distance of their box centres, relative to the track's size, which catches an object that moved more
than its own size before its velocity was known. Every track keeps a score-weighted vote of the classes
it was seen as: its class is the vote's winner. Tracks not seen for ``max_age`` frames are forgotten;
ids are never reused (not even after :meth:`Tracker.reset`).

The reset policy is decided here for every caller (``segment``, ``Predictor.stream``, the viewer): frames
of video and live sources are tracked (:func:`tracks`), and a frame that does not follow the previous one
in time (earlier, or more than ``max_gap_s`` later: a seek) starts the tracks afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from efficientps_app.sources.frames import SourceKind
from model.classes import ClassSpec
from model.outputs import PanopticResult, Segment

CLASS_GROUPS = (("car", "truck", "bus", "train"), ("person", "rider"), ("bicycle", "motorcycle"))
_INFEASIBLE = 1e6


def tracks(kind: SourceKind) -> bool:
    """Whether frames of this kind of source get track ids: video and live frames follow each other in
    time; the images of a folder do not."""
    return kind != "images"


def class_groups(classes: Sequence[ClassSpec]) -> dict[int, int]:
    """Train id -> group number: classes of one of :data:`CLASS_GROUPS` share it, every other class has its own."""
    group_of = {name: g for g, names in enumerate(CLASS_GROUPS) for name in names}
    return {c.train_id: group_of.get(c.name, len(CLASS_GROUPS) + c.train_id) for c in classes}


@dataclass
class _Track:
    id: int
    group: int
    box: np.ndarray  # (4,) float64 centre x, centre y, width, height in memory-map cells
    mask: np.ndarray  # (h, w) bool, the last mask inside the box
    last: int  # frame number of the last match
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box change per frame
    hits: int = 1
    votes: dict[int, float] = field(default_factory=dict)

    @property
    def category(self) -> int:
        return max(self.votes, key=self.votes.get)


class Tracker:
    """Assigns ``track_id``s (1, 2, ...) to thing segments, frame after frame.

    Args:
        iou_thresh: minimum IoU of a moved track mask and a segment to continue the track.
        max_age: frames a track survives without being matched.
        grid: the masks are kept ``grid`` times smaller than the frame on each side; None = 1 up to
            1023 pixels on the longer side, 2 up to 2047, ...
        groups: train id -> class group (:func:`class_groups`); None = every class alone.
        momentum: weight of the previous velocity when a new one is measured (0 = last displacement only).
        max_jump: leftover tracks and segments are paired when their box centres are less than this
            many track sizes (square root of the box area) apart,
        size_ratio: and their box areas differ by at most this factor.
        class_penalty: added to the cost of pairing a track with a segment of another class of its group.
        max_gap_s: a frame more than this many seconds after the previous one (or before it) starts afresh.
    """

    def __init__(self, iou_thresh: float = 0.05, max_age: int = 8, grid: int | None = None,
                 groups: Mapping[int, int] | None = None, momentum: float = 0.7, max_jump: float = 1.5,
                 size_ratio: float = 3.0, class_penalty: float = 0.2, max_gap_s: float = 1.0) -> None:
        self.iou_thresh, self.max_age, self.grid = iou_thresh, max_age, grid
        self.groups = dict(groups) if groups is not None else None
        self.momentum, self.max_jump = momentum, max_jump
        self.size_ratio, self.class_penalty = size_ratio, class_penalty
        self.max_gap_s = max_gap_s
        self._last_t: float | None = None
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1
        self._frame = 0

    def reset(self) -> None:
        """Forget every track (a cut, a seek); new tracks get new ids."""
        self._tracks.clear()

    def category(self, track_id: int) -> int | None:
        """The class that won the track's vote (None for an unknown or forgotten track)."""
        track = self._tracks.get(track_id)
        return track.category if track is not None else None

    def track(self, result: PanopticResult, timestamp_s: float | None = None,
              vote: bool = True) -> tuple[PanopticResult, dict[int, int]]:
        """:meth:`update`, then (with ``vote``) each tracked segment gets its track's class."""
        assignment = self.update(result, timestamp_s)
        return (self.relabel(result, assignment) if vote else result), assignment

    def relabel(self, result: PanopticResult, assignment: Mapping[int, int]) -> PanopticResult:
        """The result with every tracked thing segment (and its semantic pixels) in its track's class."""
        changed = {}
        for seg in result.segments:
            track = self._tracks.get(assignment.get(seg.id, 0))
            if track is not None and track.category != seg.category_id:
                changed[seg.id] = track.category
        if not changed:
            return result
        pan = _numpy(result.panoptic)
        semantic = _numpy(result.semantic).copy()  # numpy: torch's threaded masked writes stall on a busy CPU
        for sid, cat in changed.items():
            semantic[pan == sid] = cat
        if isinstance(result.semantic, torch.Tensor):
            semantic = torch.from_numpy(semantic).to(result.semantic.device)
        segments = tuple(replace(s, category_id=changed[s.id]) if s.id in changed else s for s in result.segments)
        return PanopticResult(result.panoptic, segments, semantic)

    def update(self, result: PanopticResult, timestamp_s: float | None = None) -> dict[int, int]:
        """Track ids of this frame's thing segments: ``{segment id: track id}``.

        Args:
            result: the frame's result.
            timestamp_s: the frame's time (``FrameMeta.timestamp_s``); a jump resets the tracks.
        """
        if timestamp_s is not None and self._last_t is not None and not 0 < timestamp_s - self._last_t <= self.max_gap_s:
            self.reset()
        self._last_t = timestamp_s
        pan = _numpy(result.panoptic)
        grid = self.grid or max(1, max(pan.shape) // 1024 + 1)
        small = np.ascontiguousarray(pan[::grid, ::grid]).astype(np.int64)
        things = [s for s in result.segments if s.is_thing]
        self._frame += 1
        self._tracks = {i: t for i, t in self._tracks.items() if self._frame - t.last <= self.max_age}
        tracks = list(self._tracks.values())
        boxes = {s.id: _cell_box(s.bbox, grid) for s in things}
        pairs = _assign(self._iou_cost(tracks, things, small), tracks, things)
        rest_t = [t for t in tracks if t.id not in {p[0].id for p in pairs}]
        rest_s = [s for s in things if s.id not in {p[1].id for p in pairs}]
        pairs += _assign(self._jump_cost(rest_t, rest_s, boxes), rest_t, rest_s)
        assignment = {}
        for track, seg in pairs:
            self._continue(track, seg, boxes[seg.id], small)
            assignment[seg.id] = track.id
        for seg in things:
            if seg.id not in assignment:
                track = _Track(self._next_id, self._group(seg.category_id), boxes[seg.id],
                               _crop(small, boxes[seg.id]) == seg.id, self._frame)
                track.votes[seg.category_id] = _weight(seg)
                self._tracks[track.id] = track
                self._next_id += 1
                assignment[seg.id] = track.id
        return assignment

    def _group(self, category: int) -> int:
        return self.groups.get(category, -1 - category) if self.groups is not None else -1 - category

    def _predicted(self, track: _Track) -> np.ndarray:
        """(4,) centre and size where the velocity puts the track's box now."""
        box = track.box + track.velocity * (self._frame - track.last)
        box[2:] = np.maximum(box[2:], 1.0)
        return box

    def _iou_cost(self, tracks: list[_Track], things: list[Segment], small: np.ndarray) -> np.ndarray:
        """(T, S) 1 - IoU of each track's moved mask with each segment (infeasible across class groups)."""
        cost = np.full((len(tracks), len(things)), _INFEASIBLE)
        if not tracks or not things:
            return cost
        slot = np.zeros(int(small.max()) + 1, np.int64)
        slot[[s.id for s in things]] = np.arange(1, len(things) + 1)
        area = np.bincount(slot[small].ravel(), minlength=len(things) + 1)[1:]
        groups = np.array([self._group(s.category_id) for s in things])
        cats = np.array([s.category_id for s in things])
        for i, track in enumerate(tracks):
            moved, (y0, x0) = _moved_mask(track.mask, self._predicted(track), small.shape)
            if not moved.any():
                continue
            region = small[y0 : y0 + moved.shape[0], x0 : x0 + moved.shape[1]]
            inter = np.bincount(slot[region[moved]], minlength=len(things) + 1)[1:]
            iou = inter / np.maximum(area + int(moved.sum()) - inter, 1)
            ok = (groups == track.group) & (iou >= self.iou_thresh)
            penalty = 0.01 * (self._frame - track.last - 1) + self.class_penalty * (cats != track.category)
            cost[i, ok] = (1.0 - iou + penalty)[ok]
        return cost

    def _jump_cost(self, tracks: list[_Track], things: list[Segment], boxes: dict[int, np.ndarray]) -> np.ndarray:
        """(T, S) distance of box centres in track sizes, for pairs of similar size (else infeasible)."""
        cost = np.full((len(tracks), len(things)), _INFEASIBLE)
        for i, track in enumerate(tracks):
            p = self._predicted(track)
            size = np.sqrt(p[2] * p[3])
            for j, seg in enumerate(things):
                b = boxes[seg.id]
                ratio = b[2] * b[3] / size**2
                dist = np.hypot(b[0] - p[0], b[1] - p[1]) / size
                if self._group(seg.category_id) == track.group and 1 / self.size_ratio <= ratio <= self.size_ratio \
                        and dist < self.max_jump:
                    cost[i, j] = dist + self.class_penalty * (seg.category_id != track.category)
        return cost

    def _continue(self, track: _Track, seg: Segment, box: np.ndarray, small: np.ndarray) -> None:
        dt = self._frame - track.last
        step = (box - track.box) / dt
        track.velocity = step if track.hits == 1 else self.momentum * track.velocity + (1 - self.momentum) * step
        track.box, track.mask, track.last = box, _crop(small, box) == seg.id, self._frame
        track.hits += 1
        track.votes[seg.category_id] = track.votes.get(seg.category_id, 0.0) + _weight(seg)


def _assign(cost: np.ndarray, tracks: list[_Track], things: list[Segment]) -> list[tuple[_Track, Segment]]:
    """The one-to-one pairs of least total cost (Hungarian method), infeasible pairs left out."""
    if not cost.size:
        return []
    rows, cols = linear_sum_assignment(cost)
    return [(tracks[i], things[j]) for i, j in zip(rows, cols) if cost[i, j] < _INFEASIBLE]


def _numpy(array) -> np.ndarray:
    return array.numpy() if isinstance(array, torch.Tensor) else np.asarray(array)  # results are on the CPU


def _weight(seg: Segment) -> float:
    return float(seg.score) if seg.score is not None else 1.0


def _cell_box(bbox: tuple[int, int, int, int], grid: int) -> np.ndarray:
    """COCO (x, y, w, h) pixels -> (centre x, centre y, width, height) in memory-map cells: the cells
    ``x0 <= c < x0 + w`` that the map samples (pixel ``c * grid``)."""
    x, y, w, h = bbox
    x0, y0, x1, y1 = -(-x // grid), -(-y // grid), -(-(x + w) // grid), -(-(y + h) // grid)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], np.float64)


def _corners(box: np.ndarray) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of a centre/size box."""
    x0, y0 = int(round(box[0] - box[2] / 2)), int(round(box[1] - box[3] / 2))
    return x0, y0, x0 + max(int(round(box[2])), 1), y0 + max(int(round(box[3])), 1)


def _crop(small: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = _corners(box)
    return small[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]


def _moved_mask(mask: np.ndarray, box: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """The mask scaled into ``box`` (cells, may reach outside the map) and cut to the map; its (y0, x0)."""
    x0, y0, x1, y1 = _corners(box)
    w, h = x1 - x0, y1 - y0
    if mask.size == 0:
        return np.zeros((0, 0), bool), (0, 0)
    scaled = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    cy0, cx0 = max(-y0, 0), max(-x0, 0)
    cy1, cx1 = min(h, shape[0] - y0), min(w, shape[1] - x0)
    if cy1 <= cy0 or cx1 <= cx0:
        return np.zeros((0, 0), bool), (0, 0)
    return scaled[cy0:cy1, cx0:cx1], (y0 + cy0, x0 + cx0)
