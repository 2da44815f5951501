"""Threading helpers shared by the predictor and the pipeline: a worker thread that keeps its exception,
a bounded put that gives up when asked to, and read-ahead of an iterator in a background thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from efficientps_app.timings import Timings

DONE = object()  # end-of-stream marker put on queues
QUEUE_SIZE = 8


class Worker(threading.Thread):
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


def put_while(q: queue.Queue, item: object, go_on: Callable[[], bool]) -> bool:
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
            item = next(iterator, DONE)
            if timings is not None and item is not DONE:
                timings.add("decode", time.perf_counter() - t0)
            if not put_while(q, item, lambda: not stop.is_set()) or item is DONE:
                return

    worker = Worker(produce, "efficientps-decode")
    worker.start()
    try:
        while True:
            try:
                item = q.get(timeout=0.2)
            except queue.Empty:
                if not worker.is_alive() and q.empty():
                    break
                continue
            if item is DONE:
                break
            yield item
    finally:
        worker.stop.set()
        worker.join(timeout=5)
    if worker.error is not None:
        raise worker.error
