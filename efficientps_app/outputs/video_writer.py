"""H.264 video output through PyAV: yuv420p, CRF, faststart, the source's frame timing and its audio.

The file is written under a hidden temporary name next to the target and renamed when complete. An
interrupted run still finalises what it has (a playable, shorter video); a failed run leaves nothing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from efficientps_app.errors import OutputError
from efficientps_app.outputs.files import finish, temp_path
from efficientps_app.sources.frames import FrameMeta, frame_rate

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Audio codecs each container takes as they are; anything else is transcoded to AAC (Matroska takes all).
_COPYABLE = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
}
_TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24, 25, 30, 50, 60 and NTSC rates


class VideoWriter:
    """Encode RGB frames to H.264 with the timing of their :class:`FrameMeta` and, optionally, the audio
    of ``audio_from`` over the same time span.

    Args:
        path: .mp4, .m4v, .mov or .mkv.
        fps: nominal frame rate (used when frames carry no timestamps).
        audio_from: a media file whose first audio stream is copied (or transcoded to AAC).
        crf: x264 constant rate factor (0-51, lower = better).
        preset: x264 speed preset.
    """

    def __init__(
        self, path: Path, fps: float | None, audio_from: Path | None = None, crf: int = 20, preset: str = "fast"
    ) -> None:
        self.path = Path(path)
        self.format = CONTAINERS.get(self.path.suffix.lower())
        if self.format is None:
            raise OutputError(f"{path}: unsupported video container (use {', '.join(CONTAINERS)})")
        self.fps, self.audio_from, self.crf, self.preset = fps, audio_from, crf, preset
        self._tmp = temp_path(self.path)
        self._out = self._video = self._audio = None
        self._t0: float | None = None
        self._pts0: int | None = None
        self._last_pts = -1
        self._last_t = 0.0
        self.frames = 0
        self._rate = Fraction(frame_rate(fps))
        self.audio_mode: str | None = None  # "copy", "aac" or None

    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        """Append one (H, W, 3) uint8 RGB frame shown at ``meta``'s time."""
        import av

        if self._out is None:
            self._open(image.shape[0], image.shape[1], meta)
        h, w = image.shape[:2]
        if h % 2 or w % 2:  # yuv420p needs even sizes: repeat the last row/column
            image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        pts = self._pts(meta)
        frame.pts, frame.time_base = pts, self._video.time_base
        for packet in self._video.encode(frame):
            self._out.mux(packet)
        self._last_t = float(pts * self._video.time_base)
        self.frames += 1
        if self._audio is not None:
            self._audio.mux_until(self._last_t)

    def _pts(self, meta: FrameMeta) -> int:
        """The frame's time on the output clock (1/90000 s), from its pts, its timestamp or its position."""
        if meta.pts is not None and meta.time_base is not None:
            t = float((meta.pts - (self._pts0 or 0)) * meta.time_base)
        elif meta.timestamp_s is not None:
            t = meta.timestamp_s - (self._t0 or 0.0)
        else:
            t = self.frames / float(self._rate)
        pts = max(int(round(t / _TIME_BASE)), self._last_pts + 1)  # strictly increasing
        self._last_pts = pts
        return pts

    def _open(self, height: int, width: int, meta: FrameMeta) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._t0 = meta.timestamp_s or 0.0
        self._pts0 = meta.pts
        options = {"movflags": "+faststart"} if self.format in ("mp4", "mov") else {}
        self._out = av.open(str(self._tmp), "w", format=self.format, options=options)
        rate = self._rate = Fraction(frame_rate(self.fps or meta.fps)).limit_denominator(1001)
        video = self._out.add_stream("libx264", rate=rate)
        video.width, video.height = width + width % 2, height + height % 2
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(self.crf), "preset": self.preset}
        video.time_base = _TIME_BASE
        video.codec_context.time_base = video.time_base
        self._video = video
        if self.audio_from is not None:
            self._audio = _AudioCopier.open(self.audio_from, self._out, self.format, self._t0)
            self.audio_mode = self._audio.mode if self._audio else None

    def close(self, keep: bool = True, whole_audio: bool = False) -> Path | None:
        """Flush and finalise; ``keep=False`` deletes the partial file instead. The audio ends one frame after
        the last video frame, or with the source's audio when ``whole_audio`` (the whole source was read).
        Returns the written path, if any."""
        if self._out is None:
            return None
        try:
            if keep:
                for packet in self._video.encode(None):
                    self._out.mux(packet)
                if self._audio is not None:
                    until = float("inf") if whole_audio else self._last_t + 1 / float(self._rate)
                    self._audio.mux_until(until, final=True)
        finally:
            if self._audio is not None:
                self._audio.close()
            self._out.close()
            self._out = None
        return finish(self._tmp, self.path, keep and self.frames > 0)


class _AudioCopier:
    """Moves the audio of a source file into the output, interleaved with the video as it is written."""

    def __init__(self, src, in_stream, out_stream, mode: str, t0: float) -> None:
        self.src, self.in_stream, self.out_stream, self.mode, self.t0 = src, in_stream, out_stream, mode, t0
        self._packets = src.demux(in_stream)
        self._pending = None
        self._resampler = None
        self._samples = 0
        if mode == "aac":
            import av

            self._resampler = av.AudioResampler(format="fltp", layout=out_stream.layout, rate=out_stream.rate)

    @classmethod
    def open(cls, path: Path, out, container_format: str, t0: float) -> _AudioCopier | None:
        import av

        try:
            src = av.open(str(path))
        except av.error.FFmpegError:
            return None
        if not src.streams.audio:
            src.close()
            return None
        stream = src.streams.audio[0]
        if t0 > 0:
            src.seek(int(t0 / stream.time_base), stream=stream, backward=True)
        name = stream.codec_context.name
        if container_format == "matroska" or name in _COPYABLE.get(container_format, set()):
            return cls(src, stream, out.add_stream_from_template(stream), "copy", t0)
        rate = stream.codec_context.sample_rate or 48000
        aac = out.add_stream("aac", rate=rate)
        aac.layout = "stereo" if (stream.codec_context.channels or 2) > 1 else "mono"
        return cls(src, stream, aac, "aac", t0)

    def mux_until(self, t: float, final: bool = False) -> None:
        """Write the source's audio up to time ``t`` (seconds of the source timeline, minus ``t0``)."""
        import av

        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None or packet.pts is None and packet.size == 0:
                break
            if packet.pts is None:
                continue
            pt = float(packet.pts * packet.time_base) - self.t0
            if pt >= t:
                self._pending = packet
                break
            if pt < -1e-3:
                continue
            if self.mode == "copy":
                shift = int(round(self.t0 / packet.time_base))
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self.out_stream
                self.out_stream.container.mux(packet)
            else:
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for frame in frames:
                    self._encode(frame)
        if final and self.mode == "aac":
            self._encode(None)

    def _encode(self, frame) -> None:
        resampled = self._resampler.resample(frame)
        for out_frame in resampled:
            out_frame.pts = self._samples
            out_frame.time_base = Fraction(1, self.out_stream.rate)
            self._samples += out_frame.samples
            for packet in self.out_stream.encode(out_frame):
                self.out_stream.container.mux(packet)
        if frame is None:
            for packet in self.out_stream.encode(None):
                self.out_stream.container.mux(packet)

    def close(self) -> None:
        self.src.close()
