"""The one dispatcher from what the user typed to a source: :func:`open_source`."""

from __future__ import annotations

from pathlib import Path

from efficientps_app.errors import SourceError
from efficientps_app.sources.frames import Source
from efficientps_app.sources.images import IMAGE_SUFFIXES, file_source, folder_source, glob_source, list_source

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def open_source(
    spec: str | Path | int,
    *,
    recursive: bool = False,
    stream_buffer: bool = False,
    vid_stride: int = 1,
    start: float | None = None,
    end: float | None = None,
) -> Source:
    """Open what the user named: a webcam index, a stream URL, an image, a folder, a glob, a ``.txt`` list
    of image paths, or a video file.

    Every source is a context manager that yields :class:`~efficientps_app.sources.frames.Frame` objects
    (RGB uint8 plus typed metadata) and releases what it holds on exit.

    Args:
        spec: the source as typed on the command line (or an int webcam index).
        recursive: descend into sub-folders of a folder source.
        stream_buffer: live sources keep every frame instead of only the latest one.
        vid_stride: video and live sources keep every N-th frame.
        start, end: video files only: the time range to read, in seconds.

    Raises:
        SourceError: nothing usable under that name.
    """
    from efficientps_app.sources.live import LiveSource
    from efficientps_app.sources.video import VideoSource

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
