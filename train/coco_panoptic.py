"""COCO panoptic datasets: find a split's files, read its JSON into samples and a class list, write a split.

The layout (what ``data convert`` and ``data synth --format coco-panoptic`` write)::

    ROOT/annotations/panoptic_{split}.json   "images", "annotations" (segments_info) and "categories" (isthing)
    ROOT/annotations/panoptic_{split}/       one PNG per annotation, segment id = R + 256 G + 256^2 B
    ROOT/images/{split}/                     the images the JSON's "file_name"s name

COCO itself is read as it is unpacked: ``annotations/panoptic_val2017.json``, ``annotations/panoptic_val2017/``
and ``val2017/`` serve the split ``val``. The class list is the JSON's categories, stuff first
(:func:`model.classes.classes_from_categories`); void is segment id 0 and every id the PNG holds but
``segments_info`` does not list, as in COCO's panopticapi.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.classes import ClassSpec, classes_from_categories
from train.data import Sample
from train.errors import DatasetError
from train.panoptic_io import PanopticSegment, id_to_rgb

HOW_TO_MAKE = ("a COCO panoptic dataset has annotations/panoptic_{split}.json, annotations/panoptic_{split}/ "
               "(PNGs) and images/{split}/; 'efficientps data convert' makes one from Cityscapes or KITTI panoptic")


@dataclass(frozen=True)
class CocoSplit:
    """One split of a COCO panoptic dataset.

    Attributes:
        json_path: the panoptic JSON (also the ground truth ``evaluate --predictions`` scores against).
        classes: the dataset's class list.
        samples: one per annotation, in the JSON's order.
        unannotated: images the JSON lists without an annotation (not used).
    """

    json_path: Path
    classes: tuple[ClassSpec, ...]
    samples: list[Sample]
    unannotated: int = 0


def is_coco_panoptic(root: str | Path) -> bool:
    """Whether ``root`` holds ``annotations/panoptic_*.json``."""
    return any((Path(root) / "annotations").glob("panoptic_*.json"))


def split_json(root: str | Path, split: str) -> Path:
    """``annotations/panoptic_{split}.json``, or COCO's ``panoptic_{split}2017.json`` (a year after the name).

    Raises:
        DatasetError: none, or several candidates.
    """
    folder = Path(root) / "annotations"
    exact = folder / f"panoptic_{split}.json"
    if exact.is_file():
        return exact
    pattern = re.compile(rf"panoptic_{re.escape(split)}\d+\.json")
    found = sorted(p for p in folder.glob(f"panoptic_{split}*.json") if pattern.fullmatch(p.name))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} candidate"
        raise DatasetError(f"{exact}: {what} panoptic JSON for split {split!r}; {HOW_TO_MAKE}")
    return found[0]


def _image_dir(root: Path, tag: str) -> Path:
    for folder in (root / "images" / tag, root / tag):
        if folder.is_dir():
            return folder
    raise DatasetError(f"{root / 'images' / tag}: image folder not found (nor {root / tag}); {HOW_TO_MAKE}")


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        for key in ("images", "annotations", "categories"):
            if not isinstance(data[key], list):
                raise TypeError(f"'{key}' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{path}: not a COCO panoptic JSON ({type(err).__name__}: {err})") from err
    return data


def read_coco_split(root: str | Path, split: str, check_files: bool = True) -> CocoSplit:
    """Read ``split`` of a COCO panoptic dataset.

    Raises:
        DatasetError: a missing folder, JSON or file, an annotation of an unknown image, or a segment of an
            unknown category (each named).
    """
    root = Path(root)
    json_path = split_json(root, split)
    data = _load_json(json_path)
    try:
        classes = classes_from_categories(data["categories"])
    except ValueError as err:
        raise DatasetError(f"{json_path}: {err}") from err
    png_dir = json_path.with_suffix("")
    if not png_dir.is_dir():
        raise DatasetError(f"{png_dir}: the PNG folder next to {json_path.name} is missing")
    image_dir = _image_dir(root, json_path.stem.removeprefix("panoptic_"))
    images = {img["id"]: img for img in data["images"]}
    known = {c.label_id for c in classes}
    samples = []
    for ann in data["annotations"]:
        image = images.get(ann.get("image_id"))
        if image is None:
            raise DatasetError(f"{json_path}: annotation {ann.get('file_name')!r} names image {ann.get('image_id')!r}, "
                               "which 'images' does not list")
        segments = tuple(PanopticSegment.from_json(s) for s in ann["segments_info"])
        unknown = sorted({s.category_id for s in segments} - known)
        if unknown:
            raise DatasetError(f"{json_path}: image {ann['image_id']!r} has segments of unknown categories {unknown}")
        sample = Sample(str(ann["image_id"]), image_dir / image["file_name"], png_dir / ann["file_name"], segments)
        for path in (sample.image, sample.panoptic) if check_files else ():
            if not path.is_file():
                raise DatasetError(f"{path}: missing (listed in {json_path.name})")
        samples.append(sample)
    if not samples:
        raise DatasetError(f"{json_path}: no annotations")
    return CocoSplit(json_path, classes, samples, len(images) - len(samples))


class CocoPanopticWriter:
    """Writes one split of a COCO panoptic dataset with ``categories`` (COCO's dicts) under ``root``.

    Images and PNGs go into hidden ``.partial`` folders that :meth:`close` renames into place before it
    writes the JSON (atomically): an interrupted writer leaves no half-written split behind.

    Raises:
        DatasetError: the split exists already and ``overwrite`` is False.
    """

    def __init__(self, root: str | Path, split: str, categories: list[dict], overwrite: bool = False) -> None:
        self.root, self.split, self.categories = Path(root), split, categories
        self.json_path = self.root / "annotations" / f"panoptic_{split}.json"
        self.final = (self.root / "images" / split, self.json_path.with_suffix(""))
        if not overwrite and (self.json_path.exists() or any(p.exists() for p in self.final)):
            raise DatasetError(f"{self.json_path}: the split {split!r} exists already (pass --overwrite to replace it)")
        self.partial = tuple(p.with_name(f".{p.name}.partial") for p in self.final)
        for folder in self.partial:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, name: str, image: np.ndarray | Path, ids: np.ndarray, segments: list[PanopticSegment]) -> None:
        """One image: an (H, W, 3) uint8 RGB array (written as PNG) or a file (hard-linked, else copied),
        its (H, W) segment ids and their ``segments_info``."""
        if isinstance(image, Path):
            file_name = f"{name}{image.suffix}"
            try:
                os.link(image, self.partial[0] / file_name)
            except OSError:
                shutil.copyfile(image, self.partial[0] / file_name)
        else:
            file_name = f"{name}.png"
            cv2.imwrite(str(self.partial[0] / file_name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(self.partial[1] / f"{name}.png"), id_to_rgb(ids)[..., ::-1])
        h, w = ids.shape
        self.images.append({"id": name, "file_name": file_name, "height": h, "width": w})
        self.annotations.append({"image_id": name, "file_name": f"{name}.png",
                                 "segments_info": [s.as_json() for s in segments]})

    def close(self) -> Path:
        """Move the files into place and write the JSON; returns its path."""
        for partial, final in zip(self.partial, self.final):
            shutil.rmtree(final, ignore_errors=True)
            partial.rename(final)
        data = {"images": self.images, "annotations": self.annotations, "categories": self.categories}
        tmp = self.json_path.with_name(f".{self.json_path.name}.partial")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.json_path)
        return self.json_path
