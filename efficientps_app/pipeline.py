"""Decode, inference, and render + write run concurrently, joined by small bounded queues.

    source --[decode thread]--> queue(8) --[caller: inference + fusion]--> queue(8) --[writer thread]--> sinks

Live sources have no decode queue: their grabber hands the newest frame straight to the model
(:func:`~efficientps_app.sources.frames.read_ahead`). Memory stays flat however long the video or
stream: at most a few frames wait in each queue. Errors in
a worker thread are raised in the caller; Ctrl-C finalises the outputs written so far, then propagates.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from efficientps_app.threads import DONE, QUEUE_SIZE, Worker, put_while
from efficientps_app.timings import Stage

if TYPE_CHECKING:
    from efficientps_app.inference.predictor import Prediction, Predictor
    from efficientps_app.outputs.render import RenderOptions
    from efficientps_app.outputs.sinks import Sink
    from efficientps_app.sources.frames import Source


@dataclass
class RunSummary:
    """What a run did: frames written, outputs, failures and per-stage timings."""

    frames: int = 0
    outputs: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False
    wall_s: float = 0.0


def run_pipeline(
    predictor: Predictor,
    source: Source,
    sinks: list[Sink],
    render_options: RenderOptions,
    max_frames: int | None = None,
    on_frame: Callable[[Prediction], None] | None = None,
    smooth_stuff: bool = False,
) -> RunSummary:
    """Run the predictor over a source into the sinks and return the summary. Ctrl-C stops the run and
    finalises the outputs (a shortened video stays playable; ``summary.interrupted`` is set); any other
    error discards them and is raised."""
    from efficientps_app.outputs.render import render

    summary, timings = RunSummary(), predictor.timings
    q: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
    need_overlay = any(s.needs_overlay for s in sinks)

    def write_all(stop: threading.Event) -> None:
        while True:
            pred = q.get()
            if pred is DONE:
                return
            t0 = time.perf_counter()
            image = render(pred.frame.image, pred.result, predictor.classes, pred.track_ids, render_options) \
                if need_overlay else None
            t1 = time.perf_counter()
            for sink in sinks:
                sink.write(pred, image)
            timings.add(Stage.RENDER, t1 - t0)
            timings.add(Stage.WRITE, time.perf_counter() - t1)
            summary.frames += 1

    writer = Worker(write_all, "efficientps-writer")
    writer.start()
    start, ok, interrupted = time.perf_counter(), False, False
    try:
        for pred in itertools.islice(predictor.stream(source, smooth_stuff=smooth_stuff), max_frames):
            if writer.error is not None or not put_while(q, pred, writer.is_alive):
                break
            if on_frame is not None:
                on_frame(pred)
        ok = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        put_while(q, DONE, writer.is_alive)
        writer.join()
        failed = writer.error is not None or not (ok or interrupted)
        complete = ok and max_frames is None and not failed
        for sink in sinks:
            summary.outputs += sink.close(keep=not failed, complete=complete)
    summary.wall_s = time.perf_counter() - start
    summary.failures = list(source.failures)
    summary.interrupted = interrupted
    if writer.error is not None:
        raise writer.error
    return summary

