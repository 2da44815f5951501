"""Webcams and streams through OpenCV, behind a grabber thread that hands over only the latest frame (or
every frame with ``stream_buffer``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from efficientps_app.errors import SourceError
from efficientps_app.sources.frames import Frame, FrameMeta, SourceKind
from efficientps_app.threads import DONE, LatestSlot, OrderedBuffer

BUFFERED_FRAMES = 64  # with stream_buffer: frames that may wait for the model before the grabber waits too


class LiveSource:
    """A webcam (integer index) or a stream URL, read by a grabber thread.

    By default only the latest frame is kept: each new frame replaces the one waiting, at once, so a slow
    model never falls behind a live feed (frames are dropped instead; ``dropped`` counts them).
    ``stream_buffer=True`` keeps every frame, in order.

    Args:
        spec: webcam index or stream URL.
        stream_buffer: keep every frame instead of only the latest.
        vid_stride: keep every N-th frame.
        capture: an opened capture to read instead of ``cv2.VideoCapture(spec)`` (anything with
            ``isOpened``, ``get``, ``read`` returning (ok, BGR image) and ``release``).
    """

    kind: SourceKind = "live"
    total = None

    def __init__(self, spec: int | str, stream_buffer: bool = False, vid_stride: int = 1, capture=None) -> None:
        import cv2

        self.name = f"webcam {spec}" if isinstance(spec, int) else str(spec)
        self.failures: list[str] = []
        self.stream_buffer, self.vid_stride = stream_buffer, max(vid_stride, 1)
        self._cap = capture if capture is not None else cv2.VideoCapture(spec)
        if not self._cap.isOpened():
            what = "webcam" if isinstance(spec, int) else "stream"
            raise SourceError(f"{self.name}: cannot open the {what} (is it connected / reachable?)")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else None
        self._stop = threading.Event()
        self._frames = OrderedBuffer(BUFFERED_FRAMES, lambda: not self._stop.is_set()) if stream_buffer else LatestSlot()
        self._thread = threading.Thread(target=self._grab, name="efficientps-grabber", daemon=True)
        self._t0 = time.monotonic()
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Frames replaced by a newer one before the model took them."""
        return self._frames.dropped

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
                self._frames.put((index - 1, time.monotonic() - self._t0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        finally:
            self._frames.close()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = self._frames.get()
            if item is DONE:
                return
            index, t, image = item
            yield Frame(image, FrameMeta(index=index, source_name=self.name, timestamp_s=t, fps=self.fps))

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._cap.release()
