"""Files written whole or not at all, and the one check before writing any.

Every output of the app is written under a hidden temporary name next to its target
(:func:`temp_path`) and renamed when complete (:func:`finish`, :func:`atomic_path`), so an interrupted
or failed run never leaves a half-written file under the real name. :func:`refuse_existing` is the
check of every command before it computes anything: "exists, and no --overwrite", or "cannot be written
there" (:func:`check_writable`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from efficientps_app.errors import OutputError


def temp_path(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def finish(tmp: Path, path: Path, keep: bool) -> Path | None:
    """Rename the temporary file ``tmp`` to ``path`` (``keep``) or remove it; the path kept, if any."""
    if keep:
        os.replace(tmp, path)
        return path
    tmp.unlink(missing_ok=True)
    return None


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write tmp`` renames ``tmp`` to ``p`` on success and removes it on failure
    (the parent folder is made first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        finish(tmp, path, keep=True)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a text file via a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_image_atomic(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB image (format from the suffix) via a temporary file and a rename."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params):
            raise OutputError(f"{path}: could not write the image (is the disk full?)")


def refuse_existing(paths: Iterable[Path], overwrite: bool) -> None:
    """Stop before anything is computed when an output exists and ``--overwrite`` was not given, or when it
    cannot be written where it is asked for (:func:`check_writable`).

    Raises:
        OutputError: naming the first existing path (and how many more there are), or the unwritable one.
    """
    paths = list(paths)
    check_writable(paths)
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        if len(existing) == 1:
            raise OutputError(f"{existing[0]} already exists; pass --overwrite to replace it")
        raise OutputError(f"{existing[0]} and {len(existing) - 1} more already exist; pass --overwrite to replace them")


def check_writable(paths: Iterable[Path]) -> None:
    """Stop before anything is computed when an output cannot be created: a folder on its way is a file, or
    the nearest folder that exists is not writable (permissions, a read-only file system).

    Raises:
        OutputError: naming the output and the folder (or file) in the way.
    """
    checked: set[Path] = set()
    for path in paths:
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if folder in checked:
            continue
        if not folder.is_dir():
            raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: the folder {folder} is not writable")
        checked.add(folder)
