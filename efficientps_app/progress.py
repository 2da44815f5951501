"""Rich progress on stderr for frame pipelines (bar with ETA when the total is known, spinner otherwise)
and the end-of-run summary. stdout stays clean."""

from __future__ import annotations

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


class FrameProgress:
    """``with FrameProgress(total) as p: ... p.advance(prediction)``."""

    def __init__(self, total: int | None, disabled: bool = False) -> None:
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total:
            columns += [BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]}"), TimeRemainingColumn()]
        else:
            columns += [TextColumn("{task.completed} frames {task.fields[fps]}"), TimeElapsedColumn()]
        self._progress = Progress(*columns, console=stderr, transient=True, disable=disabled)
        self._task = self._progress.add_task("segmenting", total=total, fps="")

    def advance(self, prediction: Prediction) -> None:
        task = self._progress.tasks[0]
        speed = task.speed
        self._progress.update(self._task, advance=1, fps=f"{speed:.1f} fps" if speed else "")

    def __enter__(self) -> FrameProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)


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
