"""``efficientps data convert``: Cityscapes or KITTI panoptic into a COCO panoptic dataset.

Both keep the Cityscapes label set: category ids are Cityscapes labelIds, the 19 evaluated classes, and
segments are made exactly as cityscapesscripts' ``createPanopticImgs`` makes them (instances = labelId *
1000 + k, stuff and crowd regions = the labelId with ``iscrowd`` for crowds, ``ignoreInEval`` pixels void).
A model trained on the converted folder therefore learns what it learns from the original. Images are
hard-linked into the new folder where the file system allows it, else copied.

Sources:

- ``cityscapes``: ``leftImg8bit/{split}/{city}/*_leftImg8bit.png`` and ``gtFine/.../*_gtFine_instanceIds.png``.
- ``kitti-panoptic``: the KITTI panoptic segmentation dataset of the EfficientPS authors
  (``training/`` and ``validation/``, each with ``images/*.png`` and ``annotations/*.png``, where an
  annotation pixel holds a Cityscapes instanceIds value as R + 256 G + 256^2 B).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from train.coco_panoptic import CocoPanopticWriter
from train.data import find_samples, read_id_image
from train.errors import DatasetError
from train.panoptic_io import eval_categories, gt_from_instance_ids, read_panoptic_png

SOURCES = ("auto", "cityscapes", "kitti-panoptic")
KITTI_SPLITS = {"train": "training", "val": "validation"}


def detect_source(root: Path) -> str:
    """"cityscapes" (``leftImg8bit/``) or "kitti-panoptic" (``training/annotations/``)."""
    if (root / "leftImg8bit").is_dir():
        return "cityscapes"
    if (root / "training" / "annotations").is_dir():
        return "kitti-panoptic"
    raise DatasetError(f"{root}: neither Cityscapes (leftImg8bit/, gtFine/) nor KITTI panoptic "
                       "(training/images/, training/annotations/)")


def _cityscapes(root: Path, split: str) -> Iterator[tuple[str, Path, Path]]:
    for sample in find_samples(root, split):
        yield sample.name, sample.image, sample.panoptic


def _kitti(root: Path, split: str) -> Iterator[tuple[str, Path, Path]]:
    folder = root / KITTI_SPLITS.get(split, split)
    annotations = sorted((folder / "annotations").glob("*.png"))
    if not annotations:
        raise DatasetError(f"{folder / 'annotations'}: no annotation PNGs for split {split!r}")
    for ann in annotations:
        image = folder / "images" / ann.name
        if not image.is_file():
            raise DatasetError(f"{image}: missing image for {ann}")
        yield ann.stem, image, ann


def _read_rgb_ids(path: Path) -> np.ndarray:
    return read_panoptic_png(path).astype(np.int64)


def convert_dataset(src: str | Path, dst: str | Path, source: str = "auto", splits: tuple[str, ...] = ("train", "val"),
                    overwrite: bool = False, progress: Callable[[], None] | None = None) -> list[Path]:
    """Write ``splits`` of ``src`` as a COCO panoptic dataset under ``dst``; returns the split JSONs.

    Raises:
        DatasetError: an unknown source, a missing folder or file (named), or a split that exists in ``dst``.
    """
    src, dst = Path(src), Path(dst)
    if source not in SOURCES:
        raise DatasetError(f"unknown source layout {source!r}; expected one of {', '.join(SOURCES)}")
    if not src.is_dir():
        raise DatasetError(f"{src}: dataset folder not found")
    source = detect_source(src) if source == "auto" else source
    find, read = {"cityscapes": (_cityscapes, read_id_image), "kitti-panoptic": (_kitti, _read_rgb_ids)}[source]
    items = {split: list(find(src, split)) for split in splits}  # every file checked before anything is written
    writers = {split: CocoPanopticWriter(dst, split, eval_categories(), overwrite) for split in splits}
    written = []
    for split, writer in writers.items():
        for name, image, annotation in items[split]:
            ids, segments = gt_from_instance_ids(read(annotation))
            writer.add(name, image, ids, segments)
            if progress is not None:
                progress()
        written.append(writer.close())
    return written
