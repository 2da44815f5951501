"""Threading helpers shared by the sources, the predictor and the pipeline: a worker thread that keeps its
exception, a bounded put that gives up when asked to, read-ahead of an iterator in a background thread,
and the two hand-overs of a live source (the latest item only, or every item in order)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from efficientps_app.timings import Stage, Timings

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
    """Iterate ``frames`` in a background thread, ``size`` items ahead (``size=0``: in the caller's thread,
    nothing read ahead); decode time goes to ``timings``."""
    if size == 0:
        yield from _timed(frames, timings)
        return
    q: queue.Queue = queue.Queue(maxsize=size)

    def produce(stop: threading.Event) -> None:
        iterator = iter(frames)
        while not stop.is_set():
            t0 = time.perf_counter()
            item = next(iterator, DONE)
            if timings is not None and item is not DONE:
                timings.add(Stage.DECODE, time.perf_counter() - t0)
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


def _timed(frames: Iterable, timings: Timings | None) -> Iterator:
    iterator = iter(frames)
    while True:
        t0 = time.perf_counter()
        item = next(iterator, DONE)
        if item is DONE:
            return
        if timings is not None:
            timings.add(Stage.DECODE, time.perf_counter() - t0)
        yield item


class LatestSlot:
    """Holds one item: ``put`` replaces what is there at once (counting it in ``dropped``), ``get`` waits for
    an item; ``close`` ends the stream after the item still held. The consumer always gets the newest item
    and the producer never waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object = DONE
        self._closed = False
        self.dropped = 0

    def put(self, item: object) -> None:
        with self._cond:
            if self._item is not DONE:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def get(self) -> object:
        """The newest item, or :data:`DONE` once closed and empty."""
        with self._cond:
            while self._item is DONE and not self._closed:
                self._cond.wait()
            item, self._item = self._item, DONE
            return item


class OrderedBuffer:
    """Every item in order, at most ``size`` waiting: ``put`` waits for room while ``go_on()``; the same
    ``put``/``close``/``get`` as :class:`LatestSlot`."""

    dropped = 0

    def __init__(self, size: int, go_on: Callable[[], bool]) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._go_on = go_on

    def put(self, item: object) -> None:
        put_while(self._queue, item, self._go_on)

    def close(self) -> None:
        put_while(self._queue, DONE, self._go_on)

    def get(self) -> object:
        return self._queue.get()
