"""Panoptic quality (PQ, SQ, RQ) and mIoU, with the exact rules of cityscapesscripts' evaluation.

``evalPanopticSemanticLabeling.pq_compute_single_core`` is the reference: a predicted and a ground-truth
segment of the same category match when IoU > 0.5, where the union leaves out the prediction's overlap
with void; crowd ground truth is never matched; an unmatched prediction is not a false positive when more
than half of it lies on void or on a crowd region of its category; ground-truth areas come from the JSON,
predicted areas from the PNG. Categories with no TP, FP or FN are left out of the averages.

This implementation maps segment ids to compact slots with a lookup table built from the JSON's ids
(no sorting of pixels), and counts all intersections of an image with one ``bincount``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

VOID = 0


@dataclass
class CategoryStats:
    iou: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0


@dataclass
class PQAccumulator:
    """Per-category PQ statistics and a category confusion matrix, summed over images.

    Attributes:
        categories: category id -> is_thing, the categories that are evaluated.
    """

    categories: Mapping[int, bool]
    stats: dict[int, CategoryStats] = field(default_factory=dict)
    confusion: dict[tuple[int, int], int] = field(default_factory=dict)  # (gt category, pred category or -1)

    def add(
        self,
        gt: np.ndarray,
        gt_segments: Mapping[int, tuple[int, bool, int]],
        pred: np.ndarray,
        pred_segments: Mapping[int, int],
    ) -> None:
        """Add one image.

        Args:
            gt: (H, W) ground-truth segment ids, 0 = void.
            gt_segments: id -> (category, iscrowd, area from the JSON).
            pred: (H, W) predicted segment ids, 0 = void.
            pred_segments: id -> category.

        Raises:
            KeyError: a predicted id is in the map but not in ``pred_segments`` (or the reverse), or has an
                unknown category.
        """
        self.add_counts(count_pairs(gt, list(gt_segments), pred, list(pred_segments)), gt_segments, pred_segments)

    def add_counts(
        self, counts: np.ndarray, gt_segments: Mapping[int, tuple[int, bool, int]], pred_segments: Mapping[int, int]
    ) -> None:
        """Add one image from :func:`count_pairs` output (same key order as the two mappings)."""
        unknown = {c for c in pred_segments.values() if c not in self.categories}
        if unknown:
            raise KeyError(f"unknown category ids {sorted(unknown)}")
        pred_keys = list(pred_segments)
        pred_area = counts.sum(0)
        missing = [p for j, p in enumerate(pred_keys, start=1) if pred_area[j] == 0]
        if missing:
            raise KeyError(f"segment ids {missing} are in the JSON but not in the PNG")
        void_row = counts[0]
        self._add_confusion(counts, gt_segments, pred_segments)
        gt_matched, pred_matched = set(), set()
        for i, (g, (g_cat, crowd, g_area)) in enumerate(gt_segments.items(), start=1):
            if crowd:
                continue
            row = counts[i]
            for j in np.nonzero(row[1 : len(pred_keys) + 1])[0] + 1:
                p = pred_keys[j - 1]
                if pred_segments[p] != g_cat:
                    continue
                iou = row[j] / (pred_area[j] + g_area - row[j] - void_row[j])
                if iou > 0.5:
                    s = self._cat(g_cat)
                    s.tp += 1
                    s.iou += iou
                    gt_matched.add(g)
                    pred_matched.add(p)
        crowd_row = {}
        for i, (g, (g_cat, crowd, _)) in enumerate(gt_segments.items(), start=1):
            if g in gt_matched:
                continue
            if crowd:
                crowd_row[g_cat] = i
                continue
            self._cat(g_cat).fn += 1
        for j, p in enumerate(pred_keys, start=1):
            if p in pred_matched:
                continue
            p_cat = pred_segments[p]
            ignored = void_row[j] + (counts[crowd_row[p_cat], j] if p_cat in crowd_row else 0)
            if ignored / pred_area[j] > 0.5:
                continue
            self._cat(p_cat).fp += 1

    def _cat(self, category: int) -> CategoryStats:
        return self.stats.setdefault(category, CategoryStats())

    def _add_confusion(self, counts: np.ndarray, gt_segments: Mapping, pred_segments: Mapping) -> None:
        gt_cats = [c for c, _, _ in gt_segments.values()]
        pred_cats = [-1, *pred_segments.values()]  # slot 0: void prediction
        for i, j in zip(*np.nonzero(counts[1 : len(gt_cats) + 1, : len(pred_cats)])):
            key = (gt_cats[i], pred_cats[j])
            self.confusion[key] = self.confusion.get(key, 0) + int(counts[i + 1, j])

    def results(self) -> dict:
        """``{"All"|"Things"|"Stuff": {pq, sq, rq, n}, "per_class": {cat: {pq, sq, rq}}, "miou": float,
        "iou_per_class": {cat: iou}}``, in the layout of cityscapesscripts' results (plus mIoU)."""
        out: dict = {}
        for name, want in (("All", None), ("Things", True), ("Stuff", False)):
            pq = sq = rq = 0.0
            n = 0
            per_class = {}
            for cat, is_thing in self.categories.items():
                if want is not None and is_thing != want:
                    continue
                s = self.stats.get(cat, CategoryStats())
                if s.tp + s.fp + s.fn == 0:
                    per_class[cat] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                    continue
                n += 1
                denom = s.tp + 0.5 * s.fp + 0.5 * s.fn
                per_class[cat] = {"pq": s.iou / denom, "sq": s.iou / s.tp if s.tp else 0, "rq": s.tp / denom}
                pq, sq, rq = pq + per_class[cat]["pq"], sq + per_class[cat]["sq"], rq + per_class[cat]["rq"]
            out[name] = {"pq": pq / n if n else 0.0, "sq": sq / n if n else 0.0, "rq": rq / n if n else 0.0, "n": n}
            if name == "All":
                out["per_class"] = per_class
        out["iou_per_class"] = iou_per_class(self.confusion, self.categories)
        values = list(out["iou_per_class"].values())
        out["miou"] = float(np.mean(values)) if values else 0.0
        return out


def iou_per_class(confusion: Mapping[tuple[int, int], int], categories) -> dict[int, float]:
    """Class IoU from pixel counts ``{(gt category, predicted category or -1 for void): pixels}`` (void
    ground truth left out by the caller); categories with an empty union are left out."""
    ious = {}
    for cat in categories:
        tp = confusion.get((cat, cat), 0)
        gt_total = sum(v for (g, _), v in confusion.items() if g == cat)
        pred_total = sum(v for (_, p), v in confusion.items() if p == cat)
        if gt_total + pred_total:
            ious[cat] = tp / (gt_total + pred_total - tp)
    return ious


def segment_slots(ids: np.ndarray, keys: list[int], scale: int = 1) -> np.ndarray:
    """``scale`` x slot per pixel, slots being 0 for void (id 0), 1..K for ``keys`` in order, K + 1 for any
    other id. A lookup table when the ids are small (Cityscapes' are below 34 000), a binary search over
    the keys when they are not (COCO panoptic PNGs use all 24 bits).

    Raises:
        ValueError: a key does not fit a panoptic PNG (24 bits).
    """
    other = len(keys) + 1
    top = max(keys, default=0)
    if top >= 1 << 24:
        raise ValueError(f"segment id {top} does not fit a panoptic PNG (24 bits)")
    if top < 1 << 20:
        lut = np.full(top + 2, other * scale, np.int64)  # the last entry catches every id above the largest key
        lut[0] = 0
        lut[np.asarray(keys, np.int64)] = np.arange(1, len(keys) + 1, dtype=np.int64) * scale
        return lut[np.minimum(ids, top + 1)]
    order = np.argsort(np.asarray(keys, np.int64))
    ordered = np.asarray(keys, np.int64)[order]
    pos = np.minimum(np.searchsorted(ordered, ids), len(keys) - 1)
    slot = np.where(ordered[pos] == ids, order[pos] + 1, np.where(ids == 0, 0, other))
    return slot * scale


def count_pairs(gt: np.ndarray, gt_keys: list[int], pred: np.ndarray, pred_keys: list[int]) -> np.ndarray:
    """Pixel counts of every (ground-truth slot, predicted slot) pair of one image.

    Slots are those of :func:`segment_slots`: void, the listed ids in order, then "other". Ground-truth pixels with
    unlisted ids are kept apart (neither matched nor void), as in cityscapesscripts.

    Returns: (len(gt_keys) + 2, len(pred_keys) + 1) int64.

    Raises:
        KeyError: the prediction has pixels whose id is not in ``pred_keys``.
    """
    width = len(pred_keys) + 2
    p = segment_slots(pred.ravel(), pred_keys)
    pair = segment_slots(gt.ravel(), gt_keys, scale=width)
    pair += p
    counts = np.bincount(pair, minlength=(len(gt_keys) + 2) * width).reshape(-1, width)
    if counts[:, -1].any():
        stray = np.unique(pred.ravel()[p == width - 1])
        raise KeyError(f"segment ids {stray.tolist()[:10]} are in the PNG but not in the JSON")
    return counts[:, :-1]
