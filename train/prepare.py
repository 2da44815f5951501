"""``efficientps data prepare``: check a Cityscapes folder and make the panoptic ground truth.

Training reads ``gtFine`` labelIds/instanceIds directly; evaluation reads the panoptic ground truth
that cityscapesscripts' ``createPanopticImgs`` writes (``gtFine/cityscapes_panoptic_{split}.json`` and
the PNG folder of the same name), which is what the benchmark's own evaluation reads too.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

from train.data import DatasetError, find_samples


def panoptic_gt_json(root: str | Path, split: str) -> Path:
    return Path(root) / "gtFine" / f"cityscapes_panoptic_{split}.json"


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
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
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
