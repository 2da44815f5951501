"""Webcams and streams through OpenCV, behind a grabber thread that keeps only the latest frame (or every
frame with ``stream_buffer``)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from efficientps_app.errors import SourceError
from efficientps_app.sources.frames import Frame, FrameMeta, SourceKind


class LiveSource:
    """A webcam (integer index) or a stream URL, read by a grabber thread.

    By default only the latest frame is kept, so a slow model never falls behind a live feed (frames are
    dropped instead). ``stream_buffer=True`` keeps every frame, in order.
    """

    kind: SourceKind = "live"
    total = None

    def __init__(self, spec: int | str, stream_buffer: bool = False, vid_stride: int = 1) -> None:
        import cv2

        self.name = f"webcam {spec}" if isinstance(spec, int) else str(spec)
        self.failures: list[str] = []
        self.stream_buffer, self.vid_stride = stream_buffer, max(vid_stride, 1)
        self._cap = cv2.VideoCapture(spec)
        if not self._cap.isOpened():
            what = "webcam" if isinstance(spec, int) else "stream"
            raise SourceError(f"{self.name}: cannot open the {what} (is it connected / reachable?)")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else None
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=64 if stream_buffer else 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grab, name="efficientps-grabber", daemon=True)
        self._t0 = time.monotonic()
        self._thread.start()

    def _grab(self) -> None:
        import cv2

        index = 0
        try:
            while not self._stop.is_set():
                ok, bgr = self._cap.read()
                if not ok:
                    break
                index += 1
                if (index - 1) % self.vid_stride:
                    continue
                item = (index - 1, time.monotonic() - self._t0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                self._put(item)
        finally:
            self._put(None)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self.stream_buffer:  # replace the stale frame with the fresh one
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            index, t, image = item
            yield Frame(image, FrameMeta(index=index, source_name=self.name, timestamp_s=t, fps=self.fps))

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._cap.release()
