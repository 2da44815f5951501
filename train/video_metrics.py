"""Video panoptic metrics: STQ (with AQ and SQ), VPQ over windows of k frames, and id switches.

All three read the same input, frame after frame: a ground-truth id map whose thing ids name one object
for the whole video, and a predicted map of *tube* ids (a tube = one predicted track of one class; see
:class:`TubeIds`).

* **STQ** (Weber et al., "STEP: Segmenting and Tracking Every Pixel", 2021): STQ = sqrt(AQ * SQ).
  AQ = 1/|G| sum_g 1/|g| sum_p TPA(p, g) * TPA(p, g) / (|p| + |g| - TPA(p, g)) over the ground-truth thing
  tubes g of the video (crowd excluded) and the predicted thing tubes p that overlap them; areas and
  overlaps are pixel counts over the whole video, predicted pixels on crowd regions are left out (as in
  deeplab2's reference code, predicted pixels on void still count in |p|). SQ = the mean over classes of
  the class IoU over all pixels of the video; void ground truth is left out, a void prediction counts as
  a miss; classes with an empty union are left out of the mean (deeplab2 also counts the void
  prediction column as a class of IoU 0 when there are void predictions: we do not).
* **VPQ** (Kim et al., "Video Panoptic Segmentation", 2020, the Cityscapes-VPS evaluation): for a window
  size k, every run of frames t, t + 5, ..., t + k (every 5th frame, as Cityscapes-VPS annotates them,
  starting at every frame t) is one volume: segments are tubes, their areas and overlaps are summed over
  the window's frames, and PQ's rule applies (same category, IoU > 0.5 where the union leaves out the
  prediction's void part; crowd never matched; a prediction more than half on void or crowd is no false
  positive). TP, FP, FN and IoU are summed over all windows; VPQ^k = PQ over categories, and VPQ = the
  mean of VPQ^0, VPQ^5, VPQ^10 and VPQ^15 (of those the video is long enough for).
* **Id switches** (CLEAR MOT): in each frame a ground-truth thing and a predicted thing match when their
  IoU (same union rule) is above 0.5, whatever their classes; a switch is counted when a ground-truth
  object is matched to another track than at its previous match. Per 100 tracked objects = 100 *
  switches / (ground-truth objects matched at least once). An object is *recovered* when it is matched
  in at least half of the frames it is visible in, always to the same track, and that track matches no
  other object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from train.pq import PQAccumulator, iou_per_class

VPQ_WINDOWS = (0, 5, 10, 15)
VPQ_FRAME_STEP = 5
_SHIFT = 24  # ids of panoptic PNGs fit in 24 bits


@dataclass(frozen=True)
class GtSegment:
    category: int
    is_thing: bool
    crowd: bool = False


@dataclass(frozen=True)
class PredSegment:
    category: int
    is_thing: bool
    track: int | None = None  # the tracker's id; None = untracked (a thing tube of one frame)


@dataclass
class _Frame:
    index: int
    pairs: dict[tuple[int, int], int]  # (gt id, tube id) -> pixels


class TubeIds:
    """Gives predicted segments tube ids that are stable over a video: a thing tube per (class, track id),
    a stuff tube per class, and a fresh tube for each untracked thing segment."""

    def __init__(self) -> None:
        self._ids: dict[tuple, int] = {}
        self.segments: dict[int, PredSegment] = {}

    def frame(self, ids: np.ndarray, segments: Mapping[int, PredSegment]) -> tuple[np.ndarray, dict[int, PredSegment]]:
        """(H, W) segment ids of one frame -> (H, W) int64 tube ids and ``{tube id: segment}`` of the frame."""
        lut = np.full(max(segments, default=0) + 1, -1, np.int64)
        lut[0] = 0
        out: dict[int, PredSegment] = {}
        for sid, seg in segments.items():
            key = (seg.category, seg.is_thing, seg.track) if not seg.is_thing or seg.track is not None else None
            if key is None or key not in self._ids:
                tube = len(self.segments) + 1
                self.segments[tube] = seg
                if key is not None:
                    self._ids[key] = tube
            else:
                tube = self._ids[key]
            lut[sid] = tube
            out[tube] = seg
        tubes = lut[np.minimum(ids, len(lut) - 1)] if ids.size else ids.astype(np.int64)
        stray = (tubes < 0) | (ids >= len(lut))
        if stray.any():
            raise KeyError(f"segment ids {np.unique(ids[stray]).tolist()[:10]} are in the map but have no segment")
        return tubes, out


@dataclass
class VideoPanopticEvaluator:
    """Accumulates STQ, VPQ and id switches over the frames of one video.

    Attributes:
        categories: category id -> is_thing, the categories that are evaluated.
    """

    categories: Mapping[int, bool]
    frames: list[_Frame] = field(default_factory=list)
    gt_info: dict[int, GtSegment] = field(default_factory=dict)
    pred_info: dict[int, PredSegment] = field(default_factory=dict)
    confusion: dict[tuple[int, int], int] = field(default_factory=dict)  # (gt category, pred category or -1)
    gt_area: dict[int, int] = field(default_factory=dict)  # thing tubes, whole video
    pred_area: dict[int, int] = field(default_factory=dict)
    overlap: dict[tuple[int, int], int] = field(default_factory=dict)
    matches: dict[int, list[tuple[int, object]]] = field(default_factory=dict)  # gt id -> [(frame, track)]
    visible: dict[int, int] = field(default_factory=dict)  # gt id -> frames it is seen in

    def add(self, index: int, gt: np.ndarray, gt_segments: Mapping[int, GtSegment], pred: np.ndarray,
            pred_segments: Mapping[int, PredSegment]) -> None:
        """Add frame ``index`` (frames come in increasing order).

        Args:
            gt: (H, W) ground-truth ids, 0 = void; a thing id is one object in every frame.
            gt_segments: the frame's ground-truth ids -> segments.
            pred: (H, W) tube ids (:class:`TubeIds`), 0 = void.
            pred_segments: the frame's tube ids -> segments.

        Raises:
            KeyError: an id of a map has no segment, or a category is not evaluated.
            ValueError: the maps differ in size, frames are out of order, or an id changes its segment.
        """
        if gt.shape != pred.shape:
            raise ValueError(f"frame {index}: prediction {pred.shape} and ground truth {gt.shape} differ in size")
        if self.frames and index <= self.frames[-1].index:
            raise ValueError(f"frame {index} comes after frame {self.frames[-1].index}")
        self._register(index, gt_segments, pred_segments)
        keys, counts = np.unique((gt.astype(np.int64) << _SHIFT) | pred.astype(np.int64), return_counts=True)
        pairs = {(int(k) >> _SHIFT, int(k) & ((1 << _SHIFT) - 1)): int(n) for k, n in zip(keys, counts)}
        for g, p in pairs:
            if g and g not in gt_segments:
                raise KeyError(f"frame {index}: ground-truth id {g} is in the map but has no segment")
            if p and p not in pred_segments:
                raise KeyError(f"frame {index}: predicted id {p} is in the map but has no segment")
        self.frames.append(_Frame(index, pairs))
        self._add_stq(pairs)
        self._add_matches(index, pairs)

    def _register(self, index: int, gt_segments: Mapping[int, GtSegment],
                  pred_segments: Mapping[int, PredSegment]) -> None:
        for table, new in ((self.gt_info, gt_segments), (self.pred_info, pred_segments)):
            for sid, seg in new.items():
                if seg.category not in self.categories:
                    raise KeyError(f"frame {index}: unknown category id {seg.category} (segment {sid})")
                if table.setdefault(sid, seg) != seg:
                    raise ValueError(f"frame {index}: id {sid} was {table[sid]} before, now {seg}")

    def _add_stq(self, pairs: dict[tuple[int, int], int]) -> None:
        gt, pred = self.gt_info, self.pred_info
        for (g, p), n in pairs.items():
            if g == 0:
                continue
            key = (gt[g].category, pred[p].category if p else -1)
            self.confusion[key] = self.confusion.get(key, 0) + n
        for (g, p), n in pairs.items():
            g_tube = g != 0 and gt[g].is_thing and not gt[g].crowd
            p_tube = p != 0 and pred[p].is_thing and not (g != 0 and gt[g].crowd)
            if g_tube:
                self.gt_area[g] = self.gt_area.get(g, 0) + n
            if p_tube:
                self.pred_area[p] = self.pred_area.get(p, 0) + n
            if g_tube and p_tube:
                self.overlap[g, p] = self.overlap.get((g, p), 0) + n

    def _add_matches(self, index: int, pairs: dict[tuple[int, int], int]) -> None:
        gt, pred = self.gt_info, self.pred_info
        g_area, p_area, p_void = _areas(pairs)
        for g in g_area:
            if g and gt[g].is_thing and not gt[g].crowd:
                self.visible[g] = self.visible.get(g, 0) + 1
        for (g, p), n in pairs.items():
            if not (g and p and gt[g].is_thing and not gt[g].crowd and pred[p].is_thing):
                continue
            if n / (g_area[g] + p_area[p] - n - p_void.get(p, 0)) > 0.5:
                track = pred[p].track if pred[p].track is not None else ("untracked", p)
                self.matches.setdefault(g, []).append((index, track))

    def results(self) -> dict:
        """``{"frames", "stq", "aq", "sq", "iou_per_class", "vpq": {k: PQ results or None}, "vpq_mean": {All,
        Things, Stuff}, "gt_tracks", "tracked_objects", "id_switches", "id_switches_per_100",
        "recovered_tracks"}``; qualities are fractions (0-1)."""
        aq = self._aq()
        sq, per_class = self._sq()
        vpq = {k: self._vpq(k) for k in VPQ_WINDOWS}
        done = [v for v in vpq.values() if v is not None]
        mean = {g: float(np.mean([v[g]["pq"] for v in done])) if done else 0.0 for g in ("All", "Things", "Stuff")}
        out = {"frames": len(self.frames), "stq": float(np.sqrt(aq * sq)), "aq": aq, "sq": sq,
               "iou_per_class": per_class, "vpq": {str(k): v for k, v in vpq.items()}, "vpq_mean": mean}
        out.update(self._switches())
        return out

    def _aq(self) -> float:
        inner: dict[int, float] = {}
        for (g, p), tpa in self.overlap.items():
            inner[g] = inner.get(g, 0.0) + tpa * tpa / (self.gt_area[g] + self.pred_area[p] - tpa)
        total = sum(inner.get(g, 0.0) / area for g, area in self.gt_area.items())
        return total / len(self.gt_area) if self.gt_area else 0.0

    def _sq(self) -> tuple[float, dict[int, float]]:
        per_class = iou_per_class(self.confusion, self.categories)
        return (float(np.mean(list(per_class.values()))) if per_class else 0.0), per_class

    def _vpq(self, k: int) -> dict | None:
        """PQ results over all windows of size ``k``; None when the video has none (shorter than k + 1)."""
        acc = PQAccumulator(self.categories)
        by_index = {f.index: f for f in self.frames}
        windows = 0
        for first in self.frames:
            window = [by_index.get(first.index + d) for d in range(0, k + 1, VPQ_FRAME_STEP)]
            if all(f is not None for f in window):
                _add_window(acc, window, self.gt_info, self.pred_info)
                windows += 1
        if not windows:
            return None
        res = acc.results()
        return {g: res[g] for g in ("All", "Things", "Stuff")} | {"per_class": res["per_class"]}

    def _switches(self) -> dict:
        switches = 0
        owners: dict[object, set[int]] = {}
        for g, seq in self.matches.items():
            switches += sum(a[1] != b[1] for a, b in zip(seq, seq[1:]))
            for _, track in seq:
                owners.setdefault(track, set()).add(g)
        recovered = sum(
            1 for g, seq in self.matches.items()
            if len({t for _, t in seq}) == 1 and owners[seq[0][1]] == {g} and 2 * len(seq) >= self.visible[g]
        )
        tracked = len(self.matches)
        return {"gt_tracks": len(self.visible), "tracked_objects": tracked, "id_switches": switches,
                "id_switches_per_100": 100.0 * switches / tracked if tracked else 0.0, "recovered_tracks": recovered}


def _areas(pairs: Mapping[tuple[int, int], int]) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Ground-truth areas, predicted areas and each prediction's void part."""
    g_area: dict[int, int] = {}
    p_area: dict[int, int] = {}
    p_void: dict[int, int] = {}
    for (g, p), n in pairs.items():
        g_area[g] = g_area.get(g, 0) + n
        p_area[p] = p_area.get(p, 0) + n
        if g == 0:
            p_void[p] = p_void.get(p, 0) + n
    return g_area, p_area, p_void


def _add_window(acc: PQAccumulator, window: list[_Frame], gt_info: Mapping[int, GtSegment],
                pred_info: Mapping[int, PredSegment]) -> None:
    """One volume of frames: pair counts summed, then PQ's matching rule."""
    pairs: dict[tuple[int, int], int] = {}
    for f in window:
        for key, n in f.pairs.items():
            pairs[key] = pairs.get(key, 0) + n
    g_area, _, _ = _areas(pairs)
    gt_keys = sorted(g for g in g_area if g)
    pred_keys = sorted({p for _, p in pairs if p})
    row = {g: i for i, g in enumerate(gt_keys, start=1)}
    col = {p: j for j, p in enumerate(pred_keys, start=1)}
    counts = np.zeros((len(gt_keys) + 2, len(pred_keys) + 1), np.int64)
    for (g, p), n in pairs.items():
        counts[row.get(g, 0), col.get(p, 0)] += n
    gt_segments = {g: (gt_info[g].category, gt_info[g].crowd, g_area[g]) for g in gt_keys}
    acc.add_counts(counts, gt_segments, {p: pred_info[p].category for p in pred_keys})
