"""A synthetic drive: the street scenes of :mod:`train.synth` seen from a car moving forward, as an H.264
MP4 with an engine-hum audio track (AAC), and on request its video panoptic ground truth.

The camera moves at constant speed: lane dashes, poles, parked cars and pedestrians come closer and
leave the frame at the bottom; oncoming cars pass on the far side; a car drives ahead in the lane; people
walk along and across the sidewalks. Each actor keeps its colours from frame to frame (its own random
generator) and its instance number k (ids labelId * 1000 + k, the same in every frame it is seen in),
the skyline stays put. Deterministic for a seed. The ground truth (:mod:`train.video_panoptic`) is
rendered together with each frame, so frame i of the MP4 and frame i of the ground truth are one scene.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from train.synth import _background, _Canvas, _ellipse, _person, _pole_with_sign, _rider, _vehicle

_FAR = 8.0  # depth at which actors appear (1 = the bottom of the frame)
_NEAR = 0.9  # depth at which they have left it


@dataclass
class _Actor:
    kind: str  # car, truck, bus, person, rider, pole
    z: float  # depth: screen position d = 1 / z (0 = horizon, 1 = bottom)
    u: float  # lateral position: -1 = left road edge, +1 = right road edge, beyond = sidewalks
    speed: float  # own speed towards the camera, in depth units per second (oncoming > 0)
    du: float  # lateral speed in road half-widths per second
    seed: int  # colours and shapes stay the same from frame to frame
    number: int = 0  # instance number k: the n-th actor of its kind (riders: also of their bicycle)


@dataclass(frozen=True)
class DriveFrame:
    """One frame of the drive and its ground truth.

    Attributes:
        image: (H, W, 3) uint8 RGB, what the MP4 encodes.
        label: (H, W) uint8 Cityscapes labelIds.
        inst: (H, W) int32 Cityscapes instanceIds: labelId * 1000 + k for things (k fixed per actor), the
            labelId elsewhere.
    """

    image: np.ndarray
    label: np.ndarray
    inst: np.ndarray


MAX_INSTANCES = 1000  # k < 1000 keeps labelId * 1000 + k a Cityscapes instance id


def _spawn(rng: np.random.Generator, z: float, numbers: dict[str, int]) -> _Actor:
    kind = str(rng.choice(["car", "car", "truck", "bus", "person", "person", "rider", "pole", "pole"]))
    seed = int(rng.integers(1 << 31))
    numbers[kind] = numbers.get(kind, 0) + 1
    if numbers[kind] >= MAX_INSTANCES:
        raise ValueError(f"more than {MAX_INSTANCES - 1} actors of kind {kind}: make the drive shorter")
    if kind == "pole":
        return _Actor(kind, z, float(rng.choice([-1.25, 1.2])), 0.0, 0.0, seed)
    if kind in ("person", "rider"):
        side = float(rng.choice([-1.0, 1.0]))
        u = side * rng.uniform(1.05, 1.4) if kind == "person" else side * rng.uniform(0.7, 0.9)
        du = rng.uniform(-0.08, 0.08) if kind == "person" else 0.0
        return _Actor(kind, z, u, float(rng.uniform(-0.3, 0.3)), du, seed, numbers[kind])
    if rng.random() < 0.5:  # oncoming traffic on the left half
        return _Actor(kind, z, float(rng.uniform(-0.85, -0.6)), float(rng.uniform(0.8, 1.6)), 0.0, seed,
                      numbers[kind])
    return _Actor(kind, z, float(rng.uniform(1.0, 1.15)), 0.0, 0.0, seed, numbers[kind])  # parked on the right


def _draw(c: _Canvas, actor: _Actor, horizon: int, vanish_x: float) -> None:
    h, w = c.hw
    d = 1.0 / actor.z
    base = horizon + (h - horizon) * d
    centre = vanish_x + (w / 2 - vanish_x) * d
    half = 0.03 * w + 0.62 * w * d
    x = centre + actor.u * half
    scale = d * h / 256 * 1.6 + 0.15
    c.rng = np.random.default_rng(actor.seed)
    c.instance_key = actor.number
    if actor.kind in ("car", "truck", "bus"):
        width = {"car": 70, "truck": 90, "bus": 120}[actor.kind] * scale
        _vehicle(c, actor.kind, x - width / 2, base, scale)
    elif actor.kind == "person":
        _person(c, x, base, scale)
    elif actor.kind == "rider":
        _rider(c, x, base, scale)
    else:
        _pole_with_sign(c, x, base, scale)


def render_drive(height: int, width: int, seconds: float, fps: int, seed: int) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames of a synthetic drive."""
    for frame in render_drive_frames(height, width, seconds, fps, seed):
        yield frame.image


def render_drive_frames(height: int, width: int, seconds: float, fps: int, seed: int) -> Iterator[DriveFrame]:
    """Yield the frames of a synthetic drive with their ground truth (``round(seconds * fps)`` frames)."""
    rng = np.random.default_rng(seed)
    horizon = int(height * 0.42)
    scene_seed = int(rng.integers(1 << 31))
    speed = 0.9  # the camera's speed in depth units per second at depth 1
    numbers: dict[str, int] = {"car": 1}  # car 1 is the one ahead
    actors = [_spawn(rng, float(z), numbers) for z in np.linspace(1.2, _FAR, 9)]
    lead = _Actor("car", 2.6, 0.25, 0.0, 0.0, int(rng.integers(1 << 31)), 1)  # the car ahead in our lane
    dt = 1.0 / fps
    for i in range(int(round(seconds * fps))):
        t = i * dt
        vanish_x = width * (0.5 + 0.06 * np.sin(2 * np.pi * t / 7.0))  # a gentle bend
        c = _Canvas(np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.int32),
                    np.zeros((height, width), np.int32), np.random.default_rng(scene_seed), {},
                    noise=np.random.default_rng(seed + 7919 * i))
        phase = (t * speed * 0.6) % 0.225
        _background(c, horizon, vanish_x, dashes=np.arange(0.05, 1.0, 0.225) + phase)
        lead.z = 2.6 + 0.4 * np.sin(2 * np.pi * t / 5.0)
        for actor in sorted([*actors, lead], key=lambda a: -a.z):  # far to near
            _draw(c, actor, horizon, vanish_x)
        c.instance_key = None
        c.paint(_ellipse(c, width / 2, height * 1.08, width * 0.55, height * 0.1), "ego vehicle", (30, 30, 30),
                texture=2)
        image = np.clip(c.image + np.random.default_rng(seed + i).normal(0, 3, c.image.shape), 0, 255)
        yield DriveFrame(image.astype(np.uint8), c.label.astype(np.uint8), c.inst)
        for k, actor in enumerate(actors):  # move: depth shrinks with the camera's and the actor's speed
            actor.z -= (speed + actor.speed) * dt * actor.z * actor.z / 4
            actor.u += actor.du * dt
            if actor.z < _NEAR:
                actors[k] = _spawn(rng, _FAR + rng.uniform(0, 2), numbers)


def engine_audio(seconds: float, rate: int = 22050, seed: int = 0) -> np.ndarray:
    """(N,) float32 mono: a low engine hum with slow revs and a little road noise."""
    t = np.arange(int(seconds * rate)) / rate
    rpm = 1.0 + 0.15 * np.sin(2 * np.pi * t / 4.0)
    phase = 2 * np.pi * np.cumsum(55.0 * rpm) / rate
    hum = sum(np.sin(k * phase) / k for k in range(1, 6))
    noise = np.random.default_rng(seed).normal(0, 1, t.shape)
    noise = np.convolve(noise, np.ones(40) / 40, mode="same")  # low-passed
    return (0.25 * hum / 2.3 + 0.15 * noise).astype(np.float32)


def write_synthetic_drive(path: str | Path, seconds: float = 10.0, fps: int = 15, size: tuple[int, int] = (256, 512),
                          seed: int = 0, crf: int = 23, ground_truth: bool = False) -> Path:
    """Write the drive as H.264 (yuv420p, faststart) + AAC audio, atomically.

    With ``ground_truth``, also ``STEM_gt.json`` + ``STEM_gt/`` (:mod:`train.video_panoptic`): the panoptic
    ground truth of every encoded frame, with ids that follow each object through the video.
    """
    import av

    from train.video_panoptic import GroundTruthWriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    h, w = size
    gt = GroundTruthWriter(path, fps, size) if ground_truth else None
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            video = out.add_stream("libx264", rate=fps)
            video.width, video.height, video.pix_fmt = w, h, "yuv420p"
            video.options = {"crf": str(crf), "preset": "medium"}
            audio = out.add_stream("aac", rate=22050)
            audio.layout = "mono"
            for i, drive_frame in enumerate(render_drive_frames(h, w, seconds, fps, seed)):
                frame = av.VideoFrame.from_ndarray(drive_frame.image, format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                out.mux(video.encode(frame))
                if gt is not None:
                    gt.add(drive_frame.inst)
            out.mux(video.encode(None))
            samples = engine_audio(seconds, seed=seed)
            for start in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 22050, start, Fraction(1, 22050)
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
        os.replace(tmp, path)
        if gt is not None:
            gt.commit()
    finally:
        tmp.unlink(missing_ok=True)
        if gt is not None:
            gt.abort()
    return path
