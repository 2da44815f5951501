"""Video playback for the viewer window: controls, timer, stepping, timestamps, and a blocking wait."""

from __future__ import annotations

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton

from efficientps_app.sources.frames import frame_rate
from efficientps_app.viewer.canvas import slider

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class PlaybackMixin:
    """Needs ``store``, ``index``, ``busy``, ``timer``, ``show_frame``, ``frame_shown`` and ``worker`` from the window."""

    def _video_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.play_button = QPushButton("play")
        self.play_button.clicked.connect(self.toggle_play)
        back, forward = QPushButton("<"), QPushButton(">")
        back.clicked.connect(lambda: self.step(-1))
        forward.clicked.connect(lambda: self.step(1))
        self.seek = slider(0, 0, 0, None)
        self.seek.sliderReleased.connect(lambda: self.show_frame(self.seek.value()))
        self.seek.valueChanged.connect(lambda v: self.seek.isSliderDown() and self._time_label(v))
        self.time_label = QLabel("-")
        self.speed_box = QComboBox()
        self.speed_box.addItems([f"{s:g}x" for s in SPEEDS])
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda _: self.timer.isActive() and self._start_timer())
        for w in (self.play_button, back, forward, self.seek, self.time_label, self.speed_box):
            row.addWidget(w, 1 if w is self.seek else 0)
        return row

    # ----- video
    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.play_button.setText("play")
        elif self.store is not None:
            self._start_timer()
            self.play_button.setText("pause")

    def _start_timer(self) -> None:
        fps = frame_rate(self.store.fps if self.store else None)
        self.timer.start(int(1000 / (fps * SPEEDS[self.speed_box.currentIndex()])))

    def _tick(self) -> None:
        if self.busy or self.store is None:
            return
        if self.store.count is not None and self.index + 1 >= self.store.count:
            self.toggle_play()
            return
        self.step(1)

    def step(self, delta: int) -> None:
        self.show_frame(self.index + delta)

    def _time_label(self, index: int) -> None:
        total = self.store.count if self.store else None
        t = self.store.duration_of(index) if self.store else None
        stamp = f"  {int(t // 60)}:{t % 60:05.2f}" if t is not None else ""
        self.time_label.setText(f"{index + 1}/{total or '?'}{stamp}")

    def wait_for_frame(self, index: int, timeout_ms: int = 120_000) -> bool:
        """Show frame ``index`` and block (running the event loop) until it is shown or failed."""
        loop = QEventLoop()

        def finished(i: int, *rest) -> None:
            if i == index:
                loop.quit()

        self.frame_shown.connect(finished)
        self.worker.worker.failed.connect(finished)
        QTimer.singleShot(timeout_ms, loop.quit)
        self.show_frame(index)
        if self.current is None or self.current[0].meta.index != index:
            loop.exec()
        self.frame_shown.disconnect(finished)
        self.worker.worker.failed.disconnect(finished)
        return self.current is not None and self.current[0].meta.index == index
