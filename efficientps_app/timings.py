"""Per-stage timings of a run, added to from the decode, inference and writer threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import Enum


class Stage(Enum):
    """The stages of a frame, in pipeline order."""

    DECODE = "decode"  # the decode thread (or the caller, for live sources)
    PREPROCESS = "preprocess"  # the predictor: to tensor, resize, pad
    INFERENCE = "inference"  # the backend
    FUSION = "fusion"  # panoptic fusion, filters, resize back, copy to the CPU
    RENDER = "render"  # the writer thread: overlays
    WRITE = "write"  # the writer thread: sinks


@dataclass
class Timings:
    """Seconds spent per :class:`Stage` over ``frames`` frames. Safe to add to from several threads."""

    frames: int = 0
    seconds: dict[Stage, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, stage: Stage, seconds: float) -> None:
        if not isinstance(stage, Stage):
            raise TypeError(f"expected a Stage, got {stage!r}")
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def count(self, frames: int) -> None:
        """``frames`` more frames went through the predictor."""
        with self._lock:
            self.frames += frames

    def ms_per_frame(self) -> dict[Stage, float]:
        """Milliseconds per frame of each stage seen so far, in pipeline order."""
        with self._lock:
            return {s: 1000 * self.seconds[s] / max(self.frames, 1) for s in Stage if s in self.seconds}
