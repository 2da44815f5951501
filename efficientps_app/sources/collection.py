"""A collection of input files: what the sources of a collection run (several sources, ``--shard``, torchrun
or ``--skip-existing``) expand to, one :class:`InputFile` per image or video.

Folders give the images and videos in them (``--recursive``: and below), globs the matching ones, ``.txt``
lists their image paths; every file is one unit of work, named by its path below the folder (or glob root) it
came from. That name is where its outputs go below ``-o`` and its key in the run's manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from efficientps_app.errors import SourceError
from efficientps_app.sources.dispatch import STREAM_SCHEMES
from efficientps_app.sources.frames import Source, SourceKind
from efficientps_app.sources.images import (IMAGE_SUFFIXES, file_source, files_in, files_matching, glob_root,
                                            list_source)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts",
                            ".m2ts", ".flv", ".wmv", ".3gp"})  # what a folder or glob contributes as video
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES


@dataclass(frozen=True)
class InputFile:
    """One input of a collection run.

    Attributes:
        path: The file.
        relative: Its name below the folder or glob root it came from (a list's or a single file's: the file
            name); unique in the collection.
        kind: ``images`` (one image) or ``video``.
    """

    path: Path
    relative: str
    kind: SourceKind


def _expand(spec: str, recursive: bool) -> list[tuple[Path, Path | None]]:
    """The files of one source as (path, root its relative name starts from)."""
    if spec.isdigit() or spec.lower().startswith(STREAM_SCHEMES):
        raise SourceError(f"{spec}: a live source cannot be part of a collection of files (segment it on its own)")
    path = Path(spec).expanduser()
    if path.is_dir():
        found = files_in(path, recursive, MEDIA_SUFFIXES)
        if not found:
            raise SourceError(f"{spec}: no images or videos found")
        return [(p, path) for p in found]
    if not path.exists() and any(ch in spec for ch in "*?["):
        found = files_matching(str(path), MEDIA_SUFFIXES)
        if not found:
            raise SourceError(f"{spec}: no images or videos match")
        return [(p, glob_root(str(path))) for p in found]
    if not path.is_file():
        raise SourceError(f"{spec}: no such file or folder")
    if path.suffix.lower() == ".txt":
        return [(p, None) for p in list_source(path, spec).paths]
    return [(path, None)]


def collect_inputs(specs: Sequence[str], recursive: bool = False) -> list[InputFile]:
    """Expand the sources to input files, in order, each file once.

    Raises:
        SourceError: a source names nothing usable, is live, or two inputs would write to the same outputs.
    """
    seen: set[Path] = set()
    found: list[tuple[Path, Path | None]] = []
    for spec in specs:
        for path, root in _expand(str(spec), recursive):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append((path, root))
    rel = [str(p.relative_to(root)) if root is not None and p.is_relative_to(root) else p.name for p, root in found]
    if len(set(rel)) != len(rel):  # same names from different folders: keep the folders
        rel = [str(p.resolve()).lstrip("/") for p, _ in found]
    stems: dict[str, str] = {}
    for name in rel:
        other = stems.setdefault(str(Path(name).with_suffix("")), name)
        if other != name:
            raise SourceError(f"{other} and {name} would write the same outputs; rename one")
    return [InputFile(p, r, "images" if p.suffix.lower() in IMAGE_SUFFIXES else "video")
            for (p, _), r in zip(found, rel)]


def open_input(item: InputFile, vid_stride: int = 1, start: float | None = None, end: float | None = None) -> Source:
    """The input as a source (an image source of one file, or a video).

    Raises:
        SourceError: the video cannot be opened, or has no frames in ``start``..``end``.
    """
    if item.kind == "images":
        return file_source(item.path, str(item.path))
    from efficientps_app.sources.video import VideoSource

    return VideoSource(item.path, vid_stride=vid_stride, start=start, end=end)


def frame_count(item: InputFile, vid_stride: int = 1, start: float | None = None, end: float | None = None) -> int:
    """How many frames the input has to segment (its share of the work): 1 for an image, the video's frame
    count from its header (1 when it cannot be told or opened)."""
    if item.kind == "images":
        return 1
    try:
        with open_input(item, vid_stride, start, end) as source:
            return max(int(source.total or 1), 1)
    except SourceError:
        return 1
