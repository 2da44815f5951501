"""Image sources: single files, folders, globs and ``.txt`` lists of paths, read one image at a time.

Unreadable images are skipped and listed in ``source.failures``; a source that cannot be opened at all
raises :class:`~efficientps_app.errors.SourceError`.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from efficientps_app.errors import SourceError
from efficientps_app.sources.frames import Frame, FrameMeta, SourceKind

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass
class ImageSource:
    """A list of image files, read one at a time (EXIF orientation applied, 16-bit, grey and alpha handled)."""

    paths: list[Path]
    relative: list[str]
    name: str
    kind: SourceKind = "images"
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> Frame:
        """Image ``index`` of the list. Raises SourceError when it cannot be read."""
        path = self.paths[index]
        return Frame(read_image_file(path), FrameMeta(index=index, source_name=str(path),
                                                      relative_path=self.relative[index]))

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self.paths)):
            try:
                frame = self.read(index)
            except SourceError as err:
                self.failures.append(str(err))
                continue
            yield frame

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def read_image_file(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    EXIF orientation is applied; 16-bit images are scaled to 8 bits; grey, palette and alpha images are
    converted (alpha is dropped).

    Raises:
        SourceError: the file is missing or not a decodable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                data = np.asarray(img, dtype=np.float64)
                top = 65535.0 if data.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
                grey = np.clip(data / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            if img.mode == "F":
                data = np.asarray(img, dtype=np.float64)
                lo, hi = float(data.min(initial=0)), float(data.max(initial=1))
                grey = ((data - lo) / max(hi - lo, 1e-12) * 255 + 0.5).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.ascontiguousarray(np.asarray(img.convert("RGB")))
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise SourceError(f"{path}: not an image format this tool reads") from None
    except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt data
        raise SourceError(f"{path}: cannot decode image ({err})") from None


def natural_key(path: Path) -> list:
    """Sort key: numbers in the path compare as numbers (img2 before img10), case ignored."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


def files_in(folder: Path, recursive: bool, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """The files of ``folder`` (and below, ``recursive``) with these suffixes, in natural order."""
    pattern = "**/*" if recursive else "*"
    return sorted((p for p in folder.glob(pattern) if p.suffix.lower() in suffixes and p.is_file()), key=natural_key)


def files_matching(pattern: str, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """The files matching a glob pattern (``**`` descends) with these suffixes, in natural order."""
    matches = [Path(p) for p in glob.glob(str(Path(pattern).expanduser()), recursive=True)]
    return sorted((p for p in matches if p.suffix.lower() in suffixes and p.is_file()), key=natural_key)


def _image_source(paths: list[Path], root: Path | None, name: str) -> ImageSource:
    if not paths:
        raise SourceError(f"{name}: no images found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    rel = [str(p.relative_to(root)) if root is not None and p.is_relative_to(root) else p.name for p in paths]
    if len(set(rel)) != len(rel):  # same file names from different folders: keep the folders
        rel = [str(p).lstrip("/") for p in paths]
    return ImageSource(paths, rel, name)


def _list_file(path: Path) -> list[Path]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SourceError(f"{path}: cannot read the list of paths ({err})") from None
    paths = [Path(s.strip()) for s in lines if s.strip() and not s.lstrip().startswith("#")]
    paths = [p if p.is_absolute() else path.parent / p for p in paths]
    others = [p for p in paths if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise SourceError(f"{path}: line '{others[0]}' is not an image path (a .txt list holds image files)")
    return paths


def folder_source(folder: Path, recursive: bool, name: str) -> ImageSource:
    """The images in ``folder`` (and its sub-folders with ``recursive``), in natural order."""
    return _image_source(files_in(folder, recursive), folder, name)


def glob_source(pattern: str) -> ImageSource:
    """The image files matching a glob pattern (``**`` descends), in natural order."""
    return _image_source(files_matching(pattern), glob_root(pattern), pattern)


def list_source(path: Path, name: str) -> ImageSource:
    """The image files named in a ``.txt`` list (one path per line, relative to the list, ``#`` comments)."""
    return files_source(_list_file(path), name)


def files_source(paths: list[Path], name: str) -> ImageSource:
    """Image files named one by one, in the order given (output names: the file names, or the paths when two
    share a name)."""
    return _image_source(paths, None, name)


def file_source(path: Path, name: str) -> ImageSource:
    """One image file."""
    return _image_source([path], path.parent, name)


def glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard."""
    parts = Path(pattern).parts
    first_wild = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts))
    return Path(*parts[:first_wild]) if first_wild else Path(".")
