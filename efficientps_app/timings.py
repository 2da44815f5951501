"""Per-stage timings of a run: decode, preprocess, inference, fusion, render and write."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Timings:
    """Seconds spent per stage over ``frames`` frames (``decode``, ``render`` and ``write`` filled by the pipeline)."""

    frames: int = 0
    stages: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def ms_per_frame(self) -> dict[str, float]:
        return {k: 1000 * v / max(self.frames, 1) for k, v in self.stages.items()}
