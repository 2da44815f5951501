"""Panoptic maps in the Cityscapes / COCO panoptic format that cityscapesscripts reads and writes.

Ground truth follows ``createPanopticImgs``: segment id = instanceIds value (labelId * 1000 + k for
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
from model.outputs import PanopticResult
from train.data import DatasetError


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


def eval_categories() -> list[dict]:
    """The categories of ``createPanopticImgs`` (labelIds of the classes that are evaluated)."""
    return [{"id": int(lab.id), "name": lab.name, "color": list(lab.color), "supercategory": lab.category,
             "isthing": int(lab.hasInstances)} for lab in labels if not lab.ignoreInEval]


def _bbox(mask_rows: np.ndarray, mask_cols: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask_rows)[0], np.nonzero(mask_cols)[0]
    return int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)


def gt_from_instance_ids(inst: np.ndarray) -> tuple[np.ndarray, list[PanopticSegment]]:
    """Panoptic ground truth of one ``*_gtFine_instanceIds.png``, exactly as ``createPanopticImgs`` makes it."""
    ids = np.zeros(inst.shape, np.int64)
    segments = []
    for value in np.unique(inst):
        value = int(value)
        lab = id2label[value // 1000 if value >= 1000 else value]
        if lab.ignoreInEval:
            continue
        crowd = int(value < 1000 and lab.hasInstances)
        mask = inst == value
        ids[mask] = value
        segments.append(PanopticSegment(value, int(lab.id), int(mask.sum()), _bbox(mask.any(1), mask.any(0)), crowd))
    return ids, segments


def prediction_to_cityscapes(result: PanopticResult, classes: tuple[ClassSpec, ...]) -> tuple[np.ndarray, list[PanopticSegment]]:
    """A :class:`PanopticResult` as Cityscapes ids (stuff = labelId, thing = labelId * 1000 + k)."""
    pan = result.panoptic.cpu().numpy()
    lut = np.zeros(len(result.segments) + 1, np.int64)
    segments = []
    for seg in result.segments:
        label_id = classes[seg.category_id].label_id
        new_id = label_id * 1000 + seg.id if seg.is_thing else label_id
        lut[seg.id] = new_id
        x, y, w, h = seg.bbox
        segments.append(PanopticSegment(new_id, label_id, seg.area, (x, y, w, h)))
    return lut[pan], segments


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
