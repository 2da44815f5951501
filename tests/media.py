"""Small media made in the tests: videos with a moving square and an optional tone track, a fake camera,
and a backend slowed to a fixed pace."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import time

import av
import numpy as np


def make_video(
    path: Path,
    frames: int = 12,
    size: tuple[int, int] = (64, 96),
    fps: int = 10,
    audio: str | None = "aac",
    codec: str = "libx264",
    pts_step: list[int] | None = None,
    images: list[np.ndarray] | None = None,
) -> Path:
    """Write a test video: a square moving right over a gradient (or ``images``, (H, W, 3) uint8 RGB of
    ``size``); ``audio`` names the audio codec (a 440 Hz tone as long as the video) or None. ``pts_step``
    gives variable frame durations (in 1/fps)."""
    h, w = size
    fmt = {".mkv": "matroska", ".mov": "mov"}.get(path.suffix, "mp4")
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.time_base = Fraction(1, 90000)
        tick = 90000 // fps
        astream = None
        if audio:
            astream = out.add_stream(audio, rate=16000)
            astream.layout = "mono"
        pts = 0
        for i in range(frames):
            if images is not None:
                img = images[i]
            else:
                img = np.zeros((h, w, 3), np.uint8)
                img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None]
                x = (i * 5) % max(w - 16, 1)
                img[h // 4 : h // 4 + 16, x : x + 16] = (255, 255, 0)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = pts, video.time_base
            pts += tick * (pts_step[i % len(pts_step)] if pts_step else 1)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if astream is not None:
            rate, total = 16000, int(16000 * pts / 90000)
            t = np.arange(total) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            fmt_name = "s16" if audio.startswith("pcm") else "fltp"
            data = (tone * 32767).astype(np.int16) if fmt_name == "s16" else tone
            chunk = 1024
            for start in range(0, total, chunk):
                piece = data[start : start + chunk][None]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(piece), format=fmt_name, layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
                for packet in astream.encode(frame):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path


def probe(path: Path) -> dict:
    """Streams, codecs, frame timestamps and audio duration of a media file."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"video_codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
                "size": (v.codec_context.height, v.codec_context.width),
                "audio_codec": c.streams.audio[0].codec_context.name if c.streams.audio else None}
        times, images = [], []
        for frame in c.decode(v):
            times.append(float(frame.pts * frame.time_base))
            images.append(frame.to_ndarray(format="rgb24"))
        info["times"], info["images"] = times, images
    if info["audio_codec"]:
        with av.open(str(path)) as c:
            a = c.streams.audio[0]
            last = 0.0
            for packet in c.demux(a):
                if packet.pts is not None:
                    last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            info["audio_end"] = last
    return info


class FakeCamera:
    """A camera for ``LiveSource(..., capture=FakeCamera(fps))``: a frame every ``1 / fps`` seconds (``frames``
    of them, then the end), each a different grey; remembers when it delivered each (``times``)."""

    def __init__(self, fps: float, frames: int = 100_000, size: tuple[int, int] = (64, 96)) -> None:
        self.interval, self.frames, self.size = 1 / fps, frames, size
        self.times: list[float] = []

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's names
        return True

    def get(self, prop: int) -> float:
        return 1 / self.interval

    def read(self):
        time.sleep(self.interval)
        if len(self.times) >= self.frames:
            return False, None
        self.times.append(time.monotonic())
        return True, np.full((*self.size, 3), len(self.times) % 256, np.uint8)

    def release(self) -> None:
        pass


class PacedBackend:
    """Wraps a backend so that each forward pass takes at least ``period`` seconds (a slower model)."""

    def __init__(self, inner, period: float) -> None:
        self.inner, self.period = inner, period

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __call__(self, batch):
        start = time.perf_counter()
        out = self.inner(batch)
        time.sleep(max(self.period - (time.perf_counter() - start), 0.0))
        return out
