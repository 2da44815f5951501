"""Progress on stderr for frame pipelines and training, and the end-of-run summary. stdout stays clean.

On a terminal: a Rich bar with ETA when the total is known, a spinner otherwise. When stderr is not a
terminal (a log file, a pipe, CI), :class:`PlainProgress` writes whole lines instead, one every
:data:`PLAIN_EVERY_S` seconds and one at each of :data:`PLAIN_PARTS` equal parts of a known total.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from typing import TYPE_CHECKING

from efficientps_app.console import stderr

if TYPE_CHECKING:
    from efficientps_app.inference.predictor import Prediction
    from efficientps_app.pipeline import RunSummary
    from efficientps_app.timings import Timings


PLAIN_EVERY_S = 10.0  # seconds between two plain progress lines, at most
PLAIN_PARTS = 10  # and a line at each tenth of a known total


def _clock_text(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PlainProgress:
    """Progress as whole lines for logs: ``epoch 2/40: 120/500 steps (24%), 3.1 steps/s, 0:02:03 left; loss ...``.

    Args:
        description: what the line starts with.
        total: the count at the end, or None when not known (then no percentage and no time left).
        unit: what is counted (``frames``, ``steps``).
        every_s: seconds between two lines, at most.
        clock: the time source, in seconds (tests pass a fake one).
    """

    def __init__(self, description: str, total: int | None, unit: str, every_s: float = PLAIN_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.description, self.total, self.unit, self.every_s, self.clock = description, total, unit, every_s, clock
        self.completed, self.info, self._printed = 0, "", 0
        self._t0 = self._last = clock()

    def update(self, completed: int, info: str = "") -> None:
        """Record the count (and what to say after it); print a line when one is due (time, or the next tenth
        of the total)."""
        self.completed, self.info = completed, info
        now = self.clock()
        part = self.total and completed * PLAIN_PARTS // self.total > self._printed * PLAIN_PARTS // self.total
        if part or now - self._last >= self.every_s:
            self._print(now)

    def finish(self) -> None:
        """The last line, unless the last count was printed already."""
        if self.completed != self._printed:
            self._print(self.clock())

    def line(self, now: float, info: str = "") -> str:
        """The progress line at time ``now`` (seconds of :attr:`clock`)."""
        elapsed = max(now - self._t0, 1e-9)
        rate = self.completed / elapsed
        text = f"{self.description}: {self.completed}"
        if self.total:
            text += f"/{self.total} {self.unit} ({100 * self.completed / self.total:.0f}%)"
        else:
            text += f" {self.unit}"
        text += f", {rate:.2f} {self.unit}/s"
        if self.total and rate > 0:
            text += f", {_clock_text((self.total - self.completed) / rate)} left"
        else:
            text += f", {_clock_text(elapsed)} elapsed"
        return f"{text}; {info}" if info else text

    def _print(self, now: float) -> None:
        stderr.print(self.line(now, self.info), markup=False, highlight=False, soft_wrap=True)
        self._printed, self._last = self.completed, now


class FrameProgress:
    """``with FrameProgress(total) as p: ... p.advance(prediction)``: a Rich bar on a terminal, plain
    periodic lines otherwise (:class:`PlainProgress`), nothing when ``disabled``."""

    def __init__(self, total: int | None, disabled: bool = False) -> None:
        self._plain = PlainProgress("segmenting", total, "frames") if not disabled and not stderr.is_terminal \
            else None
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total:
            columns += [BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]}"), TimeRemainingColumn()]
        else:
            columns += [TextColumn("{task.completed} frames {task.fields[fps]}"), TimeElapsedColumn()]
        self._progress = Progress(*columns, console=stderr, transient=True,
                                  disable=disabled or self._plain is not None)
        self._task = self._progress.add_task("segmenting", total=total, fps="")

    def advance(self, prediction: Prediction) -> None:
        if self._plain is not None:
            self._plain.update(self._plain.completed + 1)
            return
        task = self._progress.tasks[0]
        speed = task.speed
        self._progress.update(self._task, advance=1, fps=f"{speed:.1f} fps" if speed else "")

    def __enter__(self) -> FrameProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)
        if self._plain is not None:
            self._plain.finish()


def print_summary(summary: RunSummary, timings: Timings) -> None:
    """Frames, throughput, milliseconds per stage, failures and outputs, on stderr."""
    fps = summary.frames / summary.wall_s if summary.wall_s > 0 else 0.0
    per_stage = ", ".join(f"{stage.value} {ms:.1f}" for stage, ms in timings.ms_per_frame().items())
    stderr.print(f"{summary.frames} frames in {summary.wall_s:.1f} s ({fps:.2f} frames/s); "
                 f"ms per frame: {per_stage}")
    if summary.failures:
        stderr.print(f"[yellow]{len(summary.failures)} input(s) skipped:[/]")
        for failure in summary.failures[:20]:
            stderr.print(f"  {failure}", markup=False)
        if len(summary.failures) > 20:
            stderr.print(f"  ... and {len(summary.failures) - 20} more")
    for path in summary.outputs:
        stderr.print(f"saved {path}", markup=False)
