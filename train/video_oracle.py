"""An oracle test of a tracker alone: ground truth of a synthetic drive, spoiled the way a detector spoils
it, fed to the tracker frame by frame, and scored with the video metrics.

Each frame's ground-truth things become detections with scrambled segment ids; every mask is eroded or
dilated and shifted by a few pixels; some detections are missing (and some frames have none at all);
some detections get another class of their group (car/truck/bus, person/rider, bicycle/motorcycle).
Stuff is the ground truth's; pixels of missing detections become void. Whatever the tracker does, the
segmentation is the same, so differences in AQ, VPQ and id switches are the tracker's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from model.classes import ClassSpec
from model.fusion import describe_segments
from model.outputs import PanopticResult
from train.panoptic_io import gt_from_instance_ids, prediction_to_cityscapes
from train.video_metrics import GtSegment, PredSegment, TubeIds, VideoPanopticEvaluator

_FLIPS = (("car", "truck", "bus"), ("person", "rider"), ("bicycle", "motorcycle"))


@dataclass(frozen=True)
class Spoiling:
    """How detections are spoiled.

    Attributes:
        morph_px: each mask is eroded or dilated by up to this many pixels.
        jitter_px: each mask is shifted by up to this many pixels in x and y.
        drop: chance that a detection is missing in a frame.
        drop_frame: chance that a frame has no detections at all.
        flip: chance that a detection gets another class of its group.
        seed: the spoiling is deterministic for a seed.
    """

    morph_px: int = 2
    jitter_px: int = 2
    drop: float = 0.1
    drop_frame: float = 0.05
    flip: float = 0.1
    seed: int = 0


def spoiled_result(inst: np.ndarray, classes: tuple[ClassSpec, ...], spoil: Spoiling,
                   rng: np.random.Generator) -> tuple[PanopticResult, dict[int, int]]:
    """One frame's ground truth ((H, W) Cityscapes instanceIds) as a spoiled :class:`PanopticResult`, and
    the true object (instanceIds value) of each of its thing segments."""
    train_id = np.full(max(c.label_id for c in classes) + 1, -1, np.int64)
    for c in classes:
        train_id[c.label_id] = c.train_id
    by_name = {c.name: c.train_id for c in classes}
    flip_to = {by_name[a]: [by_name[b] for b in group if b != a] for group in _FLIPS for a in group}
    label = np.where(inst >= 1000, inst // 1000, inst)
    sem = train_id[np.minimum(label, len(train_id) - 1)]
    sem[label >= len(train_id)] = -1
    num_stuff = sum(not c.is_thing for c in classes)
    things = [int(v) for v in np.unique(inst) if v >= 1000 and train_id[v // 1000] >= num_stuff]
    pan = np.zeros(inst.shape, np.int32)
    stuff_sem = np.where((sem >= 0) & (sem < num_stuff), sem, -1)
    keep = [] if rng.random() < spoil.drop_frame else [v for v in things if rng.random() >= spoil.drop]
    order = rng.permutation(len(keep))  # scrambled ids: the k-th kept object gets id order[k] + 1
    info: list = [None] * len(keep)
    truth = {int(order[k]) + 1: value for k, value in enumerate(keep)}
    for k, value in enumerate(keep):
        mask = _spoil_mask(inst == value, spoil, rng)
        cat = int(train_id[value // 1000])
        if rng.random() < spoil.flip and flip_to.get(cat):
            cat = int(rng.choice(flip_to[cat]))
        pan[mask] = order[k] + 1
        info[order[k]] = (cat, True, float(rng.uniform(0.6, 1.0)))
    stuff_ids = {}
    for c in range(num_stuff):
        if ((pan == 0) & (stuff_sem == c)).any():
            info.append((c, False, None))
            stuff_ids[c] = len(info)
    for c, sid in stuff_ids.items():
        pan[(pan == 0) & (stuff_sem == c)] = sid
    semantic = np.where(pan > 0, 0, -1)
    for sid, (cat, _, _) in enumerate(info, start=1):
        semantic[pan == sid] = cat
    area = np.bincount(pan.ravel(), minlength=len(info) + 1)
    kept = [i for i in range(1, len(info) + 1) if area[i]]  # a mask painted over by later ones is gone
    lut = np.zeros(len(info) + 1, np.int32)
    lut[kept] = np.arange(1, len(kept) + 1)  # ids 1..K, as the fusion gives them
    panoptic = torch.from_numpy(lut[pan])
    segments = describe_segments(panoptic, [info[i - 1] for i in kept])
    truth = {int(lut[i]): truth[i] for i in kept if i in truth}
    return PanopticResult(panoptic, segments, torch.from_numpy(np.maximum(semantic, 0))), truth


def _spoil_mask(mask: np.ndarray, spoil: Spoiling, rng: np.random.Generator) -> np.ndarray:
    r = int(rng.integers(-spoil.morph_px, spoil.morph_px + 1))
    m = mask.astype(np.uint8)
    if r:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(r) + 1, 2 * abs(r) + 1))
        m = cv2.dilate(m, kernel) if r > 0 else cv2.erode(m, kernel)
    dx, dy = (int(v) for v in rng.integers(-spoil.jitter_px, spoil.jitter_px + 1, size=2))
    shifted = np.zeros_like(m)
    h, w = m.shape
    shifted[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = m[max(-dy, 0) : h + min(-dy, 0),
                                                                           max(-dx, 0) : w + min(-dx, 0)]
    return shifted.astype(bool)


class VideoScorer:
    """Scores :class:`PanopticResult`s and their track ids against ground-truth instanceIds, frame by frame
    (what ``segment --save-panoptic`` then ``evaluate-video`` compute, without the files)."""

    def __init__(self, classes: tuple[ClassSpec, ...], categories: dict[int, bool]) -> None:
        self.classes = classes
        self.evaluator = VideoPanopticEvaluator(categories)
        self.tubes = TubeIds()

    def add(self, index: int, inst: np.ndarray, result: PanopticResult, track_ids: dict[int, int] | None) -> None:
        gt_ids, gt_segments = gt_from_instance_ids(inst)
        is_thing = self.evaluator.categories
        gt = {s.id: GtSegment(s.category_id, is_thing[s.category_id], bool(s.iscrowd)) for s in gt_segments}
        ids, segments = prediction_to_cityscapes(result, self.classes)
        tracks = track_ids or {}
        pred = {out.id: PredSegment(out.category_id, seg.is_thing, tracks.get(seg.id) if seg.is_thing else None)
                for seg, out in zip(result.segments, segments)}
        tube_ids, tube_segments = self.tubes.frame(ids, pred)
        self.evaluator.add(index, gt_ids, gt, tube_ids, tube_segments)

    def results(self) -> dict:
        return self.evaluator.results()


Track = Callable[[PanopticResult], tuple[PanopticResult, dict[int, int]]]
"""A tracker's step: a frame's result -> (the result it outputs, {segment id: track id})."""


def run_oracle(frames: Iterable[np.ndarray], track: Track | None, classes: tuple[ClassSpec, ...],
               categories: dict[int, bool], spoil: Spoiling = Spoiling()) -> dict:
    """Spoil each frame's ground truth (``frames``: instanceIds), track it, score it.

    ``track=None`` gives each segment its true object as track id: the best any tracker can do with
    these detections."""
    rng = np.random.default_rng(spoil.seed)
    scorer = VideoScorer(classes, categories)
    for index, inst in enumerate(frames):
        result, truth = spoiled_result(inst, classes, spoil, rng)
        scorer.add(index, inst, *((result, truth) if track is None else track(result)))
    return scorer.results()
