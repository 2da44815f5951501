"""Inference off the UI thread: a QObject living in a QThread that loads and segments frames on request."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

from efficientps_app.errors import EfficientPSError


class InferenceWorker(QObject):
    """Loads frame ``index`` from the store and runs the predictor; emits ``ready`` or ``failed``.

    Signals:
        ready(index, frame, result, track_ids): the frame and its PanopticResult.
        failed(index, message): one line; the window shows it and stays usable.
    """

    ready = Signal(int, object, object, object)
    failed = Signal(int, str)

    def __init__(self, store, predictor) -> None:
        super().__init__()
        self.store, self.predictor = store, predictor
        self._tracker = None

    @Slot(int)
    def process(self, index: int) -> None:
        from efficientps_app.inference.tracking import tracks

        try:
            frame = self.store.get(index)
            result = self.predictor.predict(frame.image)
        except EfficientPSError as err:
            self.failed.emit(index, str(err))
            return
        except Exception as err:  # noqa: BLE001 - a failing frame must never take the window down
            self.failed.emit(index, f"frame {index}: {type(err).__name__}: {err}")
            return
        track_ids = None
        if tracks(self.store.kind):  # the tracker decides when a jump in time starts afresh
            self._tracker = self._tracker or self.predictor.tracker()
            result, track_ids = self._tracker.track(result, frame.meta.timestamp_s)
        self.ready.emit(index, frame, result, track_ids)


class WorkerThread:
    """Owns the QThread; ``request(index)`` queues a frame (requests run one at a time, in order)."""

    def __init__(self, store, predictor, parent: QObject | None = None) -> None:
        self.thread = QThread(parent)
        self.worker = InferenceWorker(store, predictor)
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self) -> None:
        self.thread.quit()
        self.thread.wait(5000)
