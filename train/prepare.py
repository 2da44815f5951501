"""``efficientps data prepare``: check a dataset folder; for Cityscapes, make the panoptic ground truth.

Training and ``evaluate --weights`` read a Cityscapes split's ``gtFine`` instanceIds directly;
``evaluate --predictions`` reads the panoptic ground truth that cityscapesscripts' ``createPanopticImgs``
writes (``gtFine/cityscapes_panoptic_{split}.json`` and the PNG folder of the same name), which is what
the benchmark's own evaluation reads too. A COCO panoptic dataset is checked only: it has its JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

from train.data import find_samples
from train.datasets import describe_classes, detect_format, open_split, panoptic_gt_json
from train.errors import DatasetError


def _is_current(json_path: Path, count: int) -> bool:
    if not json_path.is_file() or not json_path.with_suffix("").is_dir():
        return False
    try:
        return len(json.loads(json_path.read_text())["annotations"]) == count
    except (ValueError, KeyError):
        return False


def prepare_dataset(
    root: str | Path, splits: tuple[str, ...] = ("train", "val"), force: bool = False,
    status: Callable[[str], None] = lambda _: None,
) -> dict[str, Path]:
    """Validate every split and write its panoptic ground truth unless it is already complete.

    Returns: split -> panoptic JSON path.

    Raises:
        DatasetError: the folder or a file is missing or malformed (named, with how to get the dataset).
    """
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    root = Path(root)
    if detect_format(root) == "coco-panoptic":
        return _check_coco(root, splits, status)
    out = {}
    for split in splits:
        samples = find_samples(root, split)
        json_path = panoptic_gt_json(root, split)
        if not force and _is_current(json_path, len(samples)):
            status(f"{split}: {len(samples)} images, panoptic ground truth up to date ({json_path})")
        else:
            status(f"{split}: {len(samples)} images, writing panoptic ground truth to {json_path}")
            with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its progress
                convert2panoptic(cityscapesPath=str(root / "gtFine"), outputFolder=str(root / "gtFine"), setNames=[split])
            if not _is_current(json_path, len(samples)):
                raise DatasetError(f"{json_path}: the panoptic conversion did not produce {len(samples)} annotations")
        out[split] = json_path
    return out


def _check_coco(root: Path, splits: tuple[str, ...], status: Callable[[str], None]) -> dict[str, Path]:
    out = {}
    for split in splits:
        data = open_split(root, split, "coco-panoptic")
        skipped = f"; {data.unannotated} images without annotation are not used" if data.unannotated else ""
        status(f"{split}: {len(data.samples)} images, {describe_classes(data.classes)}; COCO panoptic "
               f"({data.gt_json}), nothing to write{skipped}")
        out[split] = data.gt_json
    return out
