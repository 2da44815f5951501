"""Which layout a dataset folder has, and one split of it: its class list, samples and panoptic ground truth.

Formats: ``cityscapes`` (``leftImg8bit/`` + ``gtFine/``, the 19 Cityscapes classes) and ``coco-panoptic``
(``annotations/panoptic_{split}.json``, the dataset's own classes); ``auto`` tells them apart by these
folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from model.classes import CITYSCAPES_CLASSES, ClassSpec
from train.coco_panoptic import HOW_TO_MAKE, is_coco_panoptic, read_coco_split
from train.data import HOW_TO_GET, Sample, find_samples
from train.errors import DatasetError

DatasetFormat = Literal["auto", "cityscapes", "coco-panoptic"]
FORMATS: tuple[str, ...] = ("auto", "cityscapes", "coco-panoptic")


@dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
        format: "cityscapes" or "coco-panoptic".
        classes: the class list a model trained on it predicts.
        samples: images and their ground truth.
        gt_json: the COCO panoptic ground-truth JSON that ``evaluate --predictions`` scores against (for
            Cityscapes the one ``data prepare`` writes; it may not exist yet).
        unannotated: images listed without an annotation (COCO panoptic only; not used).
    """

    format: str
    classes: tuple[ClassSpec, ...]
    samples: list[Sample]
    gt_json: Path
    unannotated: int = 0


def detect_format(root: str | Path) -> str:
    """"cityscapes" or "coco-panoptic", by the folders ``root`` holds.

    Raises:
        DatasetError: ``root`` is missing or holds neither layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if (root / "leftImg8bit").is_dir():
        return "cityscapes"
    if is_coco_panoptic(root):
        return "coco-panoptic"
    raise DatasetError(f"{root}: neither a Cityscapes folder (leftImg8bit/, gtFine/) nor a COCO panoptic one "
                       f"(annotations/panoptic_*.json). {HOW_TO_GET}; {HOW_TO_MAKE}")


def panoptic_gt_json(root: str | Path, split: str) -> Path:
    """Where ``data prepare`` writes a Cityscapes split's panoptic ground truth (createPanopticImgs' name)."""
    return Path(root) / "gtFine" / f"cityscapes_panoptic_{split}.json"


def open_split(root: str | Path, split: str, fmt: str = "auto") -> Split:
    """Read ``split`` of the dataset in ``root``.

    Raises:
        DatasetError: an unknown format, a missing folder, or the errors of the format's reader.
    """
    if fmt not in FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(root)
    if fmt == "cityscapes":
        return Split(fmt, CITYSCAPES_CLASSES, find_samples(root, split), panoptic_gt_json(root, split))
    coco = read_coco_split(root, split)
    return Split(fmt, coco.classes, coco.samples, coco.json_path, coco.unannotated)


def same_classes(a: tuple[ClassSpec, ...], b: tuple[ClassSpec, ...]) -> bool:
    """Whether two class lists predict the same categories (ids, names and kinds, in the same order)."""
    return [(c.label_id, c.name, c.is_thing) for c in a] == [(c.label_id, c.name, c.is_thing) for c in b]


def describe_classes(classes: tuple[ClassSpec, ...], most: int = 6) -> str:
    """'8 classes (5 stuff, 3 things: sky, sea, ...)' for messages."""
    things = sum(c.is_thing for c in classes)
    names = ", ".join(c.name for c in classes[:most]) + (", ..." if len(classes) > most else "")
    return f"{len(classes)} classes ({len(classes) - things} stuff, {things} things: {names})"
