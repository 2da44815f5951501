"""Files written whole or not at all: a hidden temporary name next to the target, renamed when complete."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def temp_path(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def write_image_atomic(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB image (format from the suffix) via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params):
        tmp.unlink(missing_ok=True)
        raise OSError(f"{path}: could not write the image")
    os.replace(tmp, path)
