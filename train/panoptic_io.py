"""Panoptic maps in the COCO panoptic format (which cityscapesscripts reads and writes too).

A panoptic ground truth is a segment-id map plus its ``segments_info`` (id, category id, area, bbox,
iscrowd); id 0 is void, as are ids that ``segments_info`` does not list. Cityscapes ground truth follows ``createPanopticImgs``: segment id = instanceIds value (labelId * 1000 + k for
instances, the labelId for stuff and crowd regions), category id = labelId, ``ignoreInEval`` pixels 0.
Predictions follow the official EfficientPS export: stuff id = labelId, thing id = labelId * 1000 + k.
PNGs store id = R + 256 G + 256^2 B.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label, labels

from model.classes import ClassSpec
from model.outputs import PanopticResult, segment_table
from train.errors import DatasetError


@dataclass(frozen=True)
class PanopticSegment:
    """One entry of a COCO panoptic ``segments_info`` list."""

    id: int
    category_id: int
    area: int
    bbox: tuple[int, int, int, int]
    iscrowd: int = 0

    def as_json(self) -> dict:
        return {"id": self.id, "category_id": self.category_id, "area": self.area, "bbox": list(self.bbox),
                "iscrowd": self.iscrowd}

    @classmethod
    def from_json(cls, info: dict) -> PanopticSegment:
        """One ``segments_info`` entry; ``area`` and ``bbox`` may be missing (0 and zeros then)."""
        return cls(int(info["id"]), int(info["category_id"]), int(info.get("area", 0)),
                   tuple(int(v) for v in info.get("bbox", (0, 0, 0, 0))), int(bool(info.get("iscrowd", 0))))


def segments_of(ids: np.ndarray, categories: dict[int, int], crowd: frozenset[int] = frozenset()) -> list[PanopticSegment]:
    """The ``segments_info`` of an id map: area and bbox of every id in ``categories`` (id -> category id)
    that is present, in id order; ids in ``crowd`` are crowd regions."""
    segments = []
    for value in np.unique(ids):
        value = int(value)
        if value in categories:
            mask = ids == value
            segments.append(PanopticSegment(value, categories[value], int(mask.sum()), _bbox(mask.any(1), mask.any(0)),
                                            int(value in crowd)))
    return segments


def eval_categories() -> list[dict]:
    """The categories of ``createPanopticImgs`` (labelIds of the classes that are evaluated)."""
    return [{"id": int(lab.id), "name": lab.name, "color": list(lab.color), "supercategory": lab.category,
             "isthing": int(lab.hasInstances)} for lab in labels if not lab.ignoreInEval]


def _bbox(mask_rows: np.ndarray, mask_cols: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask_rows)[0], np.nonzero(mask_cols)[0]
    return int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)


def gt_from_instance_ids(inst: np.ndarray) -> tuple[np.ndarray, list[PanopticSegment]]:
    """Panoptic ground truth of one ``*_gtFine_instanceIds.png``, exactly as ``createPanopticImgs`` makes it.

    Computed in a few passes over the pixels whatever the number of segments: areas from one ``bincount``,
    the id map from one lookup table, boxes from the rows and columns each segment occupies.
    """
    if inst.min(initial=0) < 0:
        raise DatasetError("instanceIds must not be negative")
    counts = np.bincount(inst.ravel())
    keep: list[tuple[int, int, int]] = []  # (id, labelId, iscrowd)
    for value in np.flatnonzero(counts).tolist():
        lab = id2label.get(value // 1000 if value >= 1000 else value)
        if lab is not None and not lab.ignoreInEval:
            keep.append((value, int(lab.id), int(value < 1000 and lab.hasInstances)))
    slot_of = np.zeros(len(counts), np.int64)  # 0 = dropped, k + 1 = keep[k]
    slot_of[[v for v, _, _ in keep]] = np.arange(1, len(keep) + 1)
    slots = slot_of[inst]
    rows = np.zeros((len(keep) + 1, inst.shape[0]), bool)
    cols = np.zeros((len(keep) + 1, inst.shape[1]), bool)
    rows[slots, np.arange(inst.shape[0])[:, None]] = True
    cols[slots, np.arange(inst.shape[1])[None, :]] = True
    ids = np.array([0] + [v for v, _, _ in keep], np.int64)[slots]
    segments = [PanopticSegment(v, label, int(counts[v]), _bbox(rows[k], cols[k]), crowd)
                for k, (v, label, crowd) in enumerate(keep, start=1)]
    return ids, segments


def prediction_to_cityscapes(result: PanopticResult, classes: tuple[ClassSpec, ...]) -> tuple[np.ndarray, list[PanopticSegment]]:
    """A :class:`PanopticResult` as Cityscapes ids (stuff = labelId, thing = labelId * 1000 + k)."""
    pan = result.panoptic.numpy()
    segments = []
    for seg in result.segments:
        label_id = classes[seg.category_id].label_id
        new_id = label_id * 1000 + seg.id if seg.is_thing else label_id
        segments.append(PanopticSegment(new_id, label_id, seg.area, seg.bbox))
    return segment_table(result, [s.id for s in segments])[pan], segments


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """(H, W) ids -> (H, W, 3) uint8 with id = R + 256 G + 256^2 B."""
    ids = ids.astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def read_panoptic_png(path: Path) -> np.ndarray:
    """(H, W) uint32 ids of a panoptic PNG (id = R + 256 G + 256^2 B), without a pass per channel."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # BGR(A)
    if data is None or data.ndim != 3 or data.dtype != np.uint8:
        raise DatasetError(f"{path}: missing or unreadable panoptic PNG (8-bit RGB expected)")
    code = cv2.COLOR_BGR2RGBA if data.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
    return cv2.cvtColor(data, code).view(np.uint32)[..., 0] & 0xFFFFFF
