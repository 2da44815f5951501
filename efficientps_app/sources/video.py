"""Video files through PyAV: real timestamps, VFR-safe, rotation applied, corrupt packets skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from efficientps_app.errors import SourceError
from efficientps_app.sources.frames import Frame, FrameMeta, SourceKind, frame_rate


class VideoSource:
    """Frames of a video file, decoded by FFmpeg (PyAV). Corrupt packets are skipped and counted."""

    kind: SourceKind = "video"

    def __init__(self, path: Path, vid_stride: int = 1, start: float | None = None, end: float | None = None) -> None:
        import av

        if vid_stride < 1:
            raise SourceError(f"--vid-stride must be >= 1, got {vid_stride}")
        if start is not None and end is not None and end <= start:
            raise SourceError(f"--end ({end}) must be after --start ({start})")
        self.path, self.name = path, str(path)
        self.vid_stride, self.start, self.end = vid_stride, start, end
        self.failures: list[str] = []
        try:
            self._container = av.open(str(path))
        except av.error.FFmpegError as err:
            raise SourceError(f"{path}: not an image or a video FFmpeg can read ({_reason(err)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{path}: has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps: float | None = float(rate) if rate else None
        first = self._stream.start_time
        self._t_first = float(first * self._stream.time_base) if first is not None else 0.0
        self.width, self.height = self._stream.codec_context.width, self._stream.codec_context.height
        duration = float(self._stream.duration * self._stream.time_base) if self._stream.duration else None
        if duration is None and self._container.duration:
            duration = self._container.duration / 1_000_000
        self._check_range(duration)
        self.total = self._estimate_total(duration)

    def _check_range(self, duration: float | None) -> None:
        """--start after the end or --end before the first frame: no frames to read (said before any work)."""
        if self.start is not None and duration and self.start >= self._t_first + duration - 1e-6:
            self._container.close()
            raise SourceError(f"--start {self.start:g}: no frames there ({self.name} is {duration:.2f} s long)")
        if self.end is not None and self.end <= self._t_first + 1e-6:
            self._container.close()
            raise SourceError(f"--end {self.end:g}: no frames before it ({self.name} starts at {self._t_first:.2f} s)")

    def _estimate_total(self, duration: float | None) -> int | None:
        frames = self._stream.frames
        if (self.start or self.end) and duration and self.fps:
            span = min(self.end or duration, duration) - (self.start or 0.0)
            frames = max(int(round(span * self.fps)), 0)
        elif not frames and duration and self.fps:
            frames = int(round(duration * self.fps))
        return -(-frames // self.vid_stride) if frames else None

    def frame_index(self, t: float) -> int | None:
        """The index of the frame shown at stream time ``t`` (seconds), None without a frame rate."""
        return int(round((t - self._t_first) * self.fps)) if self.fps else None

    def frame_time(self, index: int) -> float:
        """The stream time (seconds) of frame ``index``: where to seek for it."""
        return self._t_first + index / frame_rate(self.fps)

    def __iter__(self) -> Iterator[Frame]:
        import av

        stream, tb = self._stream, self._stream.time_base
        if self.start:
            self._container.seek(int(self.start / tb), stream=stream, backward=True, any_frame=False)
        decoded, last_index = 0, -1
        last_t = 0.0
        for packet in self._container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as err:
                self.failures.append(f"{self.name}: corrupt data after {last_t:.3f} s skipped ({_reason(err)})")
                continue
            for frame in frames:
                t = float(frame.pts * tb) if frame.pts is not None else self.frame_time(decoded)
                last_t = t
                if self.start is not None and t < self.start - 1e-6:
                    continue
                if self.end is not None and t >= self.end - 1e-6:
                    return
                decoded += 1
                if (decoded - 1) % self.vid_stride:
                    continue
                index = self.frame_index(t)
                last_index = max(decoded - 1 if index is None else index, last_index + 1)  # VFR: still increasing
                image = _rotate(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0))
                meta = FrameMeta(index=last_index, source_name=self.name, timestamp_s=t, fps=self.fps,
                                 pts=frame.pts, time_base=tb)
                yield Frame(image, meta)

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    turns = (int(round(rotation / 90)) % 4) if rotation else 0
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)
