"""Random access to the frames of a source for the viewer (no Qt): images by index, video by seeking."""

from __future__ import annotations

from pathlib import Path

from efficientps_app.errors import SourceError
from efficientps_app.sources.dispatch import open_source
from efficientps_app.sources.frames import Frame
from efficientps_app.sources.images import ImageSource


class FrameStore:
    """Frame ``i`` of an image list or a video file; ``count`` is None for live sources (only ``next``).

    Video frames are decoded forward from the last position; going back re-opens the file at the wanted
    time, so stepping and playing are cheap and seeking costs one keyframe interval.
    """

    def __init__(self, spec: str | Path | int) -> None:
        self.source = open_source(spec)
        self.kind, self.name = self.source.kind, self.source.name
        self.fps = getattr(self.source, "fps", None)
        self.count: int | None = self.source.total if self.kind != "live" else None
        self._iter = None
        self._next_index = 0

    def duration_of(self, index: int) -> float | None:
        """Seconds from the start of the video to frame ``index`` (None for images and live sources)."""
        return index / self.fps if self.fps and self.kind == "video" else None

    def get(self, index: int) -> Frame:
        """Frame ``index`` (0-based). Raises SourceError for unreadable images or past the end."""
        if isinstance(self.source, ImageSource):
            if not 0 <= index < len(self.source.paths):
                raise SourceError(f"frame {index} is outside 0..{len(self.source.paths) - 1}")
            return self.source.read(index)
        if self.kind == "live":
            return self._next()
        if self._iter is None or index < self._next_index or index > self._next_index + 30:
            self._reopen(index)
        while True:
            frame = self._next()
            if frame.meta.index >= index:
                return frame

    def _reopen(self, index: int) -> None:
        from efficientps_app.sources.video import VideoSource

        self.source.__exit__(None, None, None)
        start = self.source.frame_time(max(index - 0.5, 0)) if self.fps and index else None
        self.source = VideoSource(Path(self.name), start=start)
        self._iter = None

    def _next(self) -> Frame:
        if self._iter is None:
            self._iter = iter(self.source)
        frame = next(self._iter, None)
        if frame is None:
            self._iter = None
            raise SourceError(f"{self.name}: no frame there (end of the video)")
        self._next_index = frame.meta.index + 1
        return frame

    def close(self) -> None:
        self.source.__exit__(None, None, None)
