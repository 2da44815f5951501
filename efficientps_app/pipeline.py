"""Decode, inference, and render + write run concurrently, joined by small bounded queues.

    source --[decode thread]--> queue(8) --[caller: inference + fusion]--> queue(8) --[writer thread]--> sinks

Memory stays flat however long the video or stream: at most a few frames wait in each queue. Errors in
a worker thread are raised in the caller; Ctrl-C finalises the outputs written so far, then propagates.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from efficientps_app.predictor import Prediction, Predictor, Timings
    from efficientps_app.render import RenderOptions
    from efficientps_app.sources import Source

_DONE = object()
QUEUE_SIZE = 8


class Sink(Protocol):
    """An output: gets every prediction (and the rendered overlay when it asks for one)."""

    needs_overlay: bool

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None: ...

    def close(self, keep: bool, complete: bool) -> list[Path]:
        """Finalise (``keep``) or discard the output; ``complete``: the whole source was read."""
        ...


class _Worker(threading.Thread):
    """Runs ``target(stop)`` and keeps its exception for the caller."""

    def __init__(self, target: Callable[[threading.Event], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stop, self.error = threading.Event(), None
        self._target_fn = target

    def run(self) -> None:
        try:
            self._target_fn(self.stop)
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            self.error = err


def _put(q: queue.Queue, item: object, go_on: Callable[[], bool]) -> bool:
    """Put ``item``, waiting for room while ``go_on()``; False if it gave up."""
    while go_on():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def prefetch(frames: Iterable, timings: Timings | None = None, size: int = QUEUE_SIZE) -> Iterator:
    """Iterate ``frames`` in a background thread, ``size`` items ahead; decode time goes to ``timings``."""
    q: queue.Queue = queue.Queue(maxsize=size)

    def produce(stop: threading.Event) -> None:
        iterator = iter(frames)
        while not stop.is_set():
            t0 = time.perf_counter()
            item = next(iterator, _DONE)
            if timings is not None and item is not _DONE:
                timings.add("decode", time.perf_counter() - t0)
            if not _put(q, item, lambda: not stop.is_set()) or item is _DONE:
                return

    worker = _Worker(produce, "efficientps-decode")
    worker.start()
    try:
        while True:
            try:
                item = q.get(timeout=0.2)
            except queue.Empty:
                if not worker.is_alive() and q.empty():
                    break
                continue
            if item is _DONE:
                break
            yield item
    finally:
        worker.stop.set()
        worker.join(timeout=5)
    if worker.error is not None:
        raise worker.error


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
) -> RunSummary:
    """Run the predictor over a source into the sinks and return the summary. Ctrl-C stops the run and
    finalises the outputs (a shortened video stays playable; ``summary.interrupted`` is set); any other
    error discards them and is raised."""
    from efficientps_app.render import render

    summary, timings = RunSummary(), predictor.timings
    q: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
    need_overlay = any(s.needs_overlay for s in sinks)

    def write_all(stop: threading.Event) -> None:
        while True:
            pred = q.get()
            if pred is _DONE:
                return
            t0 = time.perf_counter()
            image = render(pred.frame.image, pred.result, predictor.classes, pred.track_ids, render_options) \
                if need_overlay else None
            t1 = time.perf_counter()
            for sink in sinks:
                sink.write(pred, image)
            timings.add("render", t1 - t0)
            timings.add("write", time.perf_counter() - t1)
            summary.frames += 1

    writer = _Worker(write_all, "efficientps-writer")
    writer.start()
    start, ok, interrupted = time.perf_counter(), False, False
    try:
        for pred in itertools.islice(predictor.stream(source), max_frames):
            if writer.error is not None or not _put(q, pred, writer.is_alive):
                break
            if on_frame is not None:
                on_frame(pred)
        ok = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        _put(q, _DONE, writer.is_alive)
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

