"""The one dispatcher from what the user typed to a source: :func:`open_source`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from efficientps_app.errors import SourceError
from efficientps_app.sources.frames import Source
from efficientps_app.sources.images import (IMAGE_SUFFIXES, file_source, files_source, folder_source, glob_source,
                                            list_source)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def open_source(
    spec: str | Path | int | Sequence[str | Path],
    *,
    recursive: bool = False,
    stream_buffer: bool = False,
    vid_stride: int = 1,
    start: float | None = None,
    end: float | None = None,
) -> Source:
    """Open what the user named: a webcam index, a stream URL, an image, a folder, a glob, a ``.txt`` list
    of image paths, or a video file; or several image files (what the shell makes of an unquoted glob), which
    become one image source of those files in the order given.

    Every source is a context manager that yields :class:`~efficientps_app.sources.frames.Frame` objects
    (RGB uint8 plus typed metadata) and releases what it holds on exit.

    Args:
        spec: the source as typed on the command line (or an int webcam index), or a sequence of them: one
            element is the same as that element alone; several must all be image files (:func:`image_files`).
        recursive: descend into sub-folders of a folder source.
        stream_buffer: live sources keep every frame instead of only the latest one.
        vid_stride: video and live sources keep every N-th frame.
        start, end: video files only: the time range to read, in seconds.

    Raises:
        SourceError: nothing usable under that name.
    """
    from efficientps_app.sources.live import LiveSource
    from efficientps_app.sources.video import VideoSource

    if not isinstance(spec, (str, Path, int)):
        if len(spec) != 1:
            return files_source(image_files(spec), _several_name(spec))
        spec = spec[0]
    text = str(spec)
    if isinstance(spec, int) or text.isdigit():
        return LiveSource(int(text), stream_buffer=stream_buffer, vid_stride=vid_stride)
    if text.lower().startswith(STREAM_SCHEMES):
        return LiveSource(text, stream_buffer=stream_buffer, vid_stride=vid_stride)
    path = Path(text).expanduser()
    if path.is_dir():
        return folder_source(path, recursive, text)
    if not path.exists() and any(ch in text for ch in "*?["):
        return glob_source(text)
    if not path.exists():
        raise SourceError(f"{text}: no such file or folder")
    if not path.is_file():
        raise SourceError(f"{text}: not a regular file")
    if path.suffix.lower() == ".txt":
        return list_source(path, text)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return file_source(path, text)
    return VideoSource(path, vid_stride=vid_stride, start=start, end=end)


def image_files(specs: Sequence[str | Path]) -> list[Path]:
    """The paths of several sources given at once, in the order given, each checked to be an image file.

    This is what an unquoted glob (``segment frames/*.jpg``) reaches the command as. Several videos, folders,
    lists or streams are not one source: the first one that is not an image file is named.

    Raises:
        SourceError: no source, a missing path, or one that is not an image file.
    """
    if not specs:
        raise SourceError("no source given")
    paths = []
    for spec in specs:
        path = Path(str(spec)).expanduser()
        if not path.exists():
            raise SourceError(f"{spec}: no such file or folder")
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            what = "a folder" if path.is_dir() else f"not an image file ({', '.join(sorted(IMAGE_SUFFIXES))})"
            raise SourceError(f"{spec}: {what}; several sources must all be image files (give a folder, a "
                              "video or a stream on its own, or several with -o DIR for a collection run)")
        paths.append(path)
    return paths


def _several_name(specs: Sequence[str | Path]) -> str:
    return f"{specs[0]} and {len(specs) - 1} more"
