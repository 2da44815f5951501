"""The viewer's main window: display modes, comparison, legend with class toggles, hover inspection,
track ids and following one track through a video, video controls, export, drag and drop, remembered
settings. Inference runs in a worker thread."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from efficientps_app.outputs.render import VIEW_MODES, render_view
from efficientps_app.viewer.canvas import ImageView, link, slider, to_qimage
from efficientps_app.viewer.follow import FollowMixin
from efficientps_app.viewer.frames import FrameStore
from efficientps_app.viewer.playback import PlaybackMixin
from efficientps_app.viewer.worker import WorkerThread

COMPARE = ("off", "side by side", "split")
CACHE_FRAMES = 64


class ViewerWindow(FollowMixin, PlaybackMixin, QMainWindow):
    """``ViewerWindow(predictor, settings).open(source)``; ``show_result`` also accepts hand-made results."""

    request = Signal(int)
    frame_shown = Signal(int)

    def __init__(self, predictor, settings: QSettings | None = None) -> None:
        super().__init__()
        self.predictor, self.classes = predictor, predictor.classes
        self.settings = settings or QSettings("efficientps", "viewer")
        self.mode = str(self.settings.value("mode", "overlay"))
        self.mode = self.mode if self.mode in VIEW_MODES else "overlay"
        self.alpha = float(self.settings.value("alpha", 0.5))
        self.compare, self.split = "off", 0.5
        self.hidden: set[int] = set()
        self.isolated: int | None = None  # a segment id shown alone
        self.followed: int | None = None  # a track id shown alone, frame after frame
        self.show_tracks = self.settings.value("show_tracks", "true") in (True, "true")
        self.store: FrameStore | None = None
        self.worker: WorkerThread | None = None
        self.cache: OrderedDict[int, tuple] = OrderedDict()
        self.current: tuple | None = None
        self.index, self.busy, self.wanted = 0, False, None
        self.last_error = ""
        self.setWindowTitle("EfficientPS viewer")
        self.setAcceptDrops(True)
        self._build()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)

    # ----- layout
    def _build(self) -> None:
        self.raw_view, self.view = ImageView(), ImageView()
        link(self.raw_view, self.view)
        self.raw_view.hide()
        for v in (self.raw_view, self.view):
            v.hovered.connect(self._hover)
        self.view.clicked.connect(self._click)
        self.views = views = QSplitter()
        views.addWidget(self.raw_view)
        views.addWidget(self.view)
        self.legend = QTreeWidget()
        self.legend.setHeaderLabels(["class", "share", "instances"])
        self.legend.setRootIsDecorated(False)
        for c in self.classes:
            item = QTreeWidgetItem([c.name, "", ""])
            item.setCheckState(0, Qt.CheckState.Checked)
            pix = QPixmap(12, 12)
            pix.fill(QColor(*c.color))
            item.setIcon(0, QIcon(pix))
            item.setData(0, Qt.ItemDataRole.UserRole, c.train_id)
            self.legend.addTopLevelItem(item)
        self.legend.itemChanged.connect(self._toggle_class)
        self.legend.setMinimumWidth(260)
        self.legend.setColumnWidth(0, 130)
        self.legend.setColumnWidth(1, 60)
        main = QSplitter()
        main.addWidget(views)
        main.addWidget(self.legend)
        main.setStretchFactor(0, 4)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(main, 1)
        layout.addLayout(self._video_controls())
        self.setCentralWidget(body)
        self._toolbar()
        self.status = QLabel("open an image, a folder or a video (File menu or drag and drop)")
        self.busy_label = QLabel("")
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.busy_label)

    def _toolbar(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, slot, key in (("Open file...", self._open_file, QKeySequence.StandardKey.Open),
                                ("Open folder...", self._open_folder, None), ("Open webcam 0", lambda: self.open(0), None),
                                ("Export frame...", self._export_dialog, QKeySequence.StandardKey.Save),
                                ("Copy view", self.copy_view, QKeySequence.StandardKey.Copy),
                                ("Quit", self.close, QKeySequence.StandardKey.Quit)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            if key is not None:
                action.setShortcut(key)
            menu.addAction(action)
        bar = QToolBar("view")
        self.addToolBar(bar)
        self.mode_box = QComboBox()
        self.mode_box.addItems([f"{i + 1} {m}" for i, m in enumerate(VIEW_MODES)])
        self.mode_box.setCurrentIndex(VIEW_MODES.index(self.mode))
        self.mode_box.currentIndexChanged.connect(lambda i: self.set_mode(VIEW_MODES[i]))
        self.alpha_slider = slider(0, 100, int(self.alpha * 100), lambda v: self.set_alpha(v / 100))
        self.compare_box = QComboBox()
        self.compare_box.addItems(COMPARE)
        self.compare_box.currentTextChanged.connect(self.set_compare)
        self.split_slider = slider(0, 100, 50, lambda v: self._set_split(v / 100))
        self.tracks_box = self._tracks_checkbox()
        for widget in (QLabel(" mode "), self.mode_box, QLabel(" alpha "), self.alpha_slider,
                       QLabel(" compare "), self.compare_box, QLabel(" split "), self.split_slider,
                       QLabel(" "), self.tracks_box):
            bar.addWidget(widget)

    # ----- sources and frames
    def open(self, spec) -> bool:
        """Open an image, folder, glob, video or webcam; False (with a message) when it cannot be read."""
        from efficientps_app.errors import EfficientPSError

        try:
            store = FrameStore(spec)
        except EfficientPSError as err:
            self._error(str(err))
            return False
        self._stop_worker()
        self.store, self.cache, self.current, self.index = store, OrderedDict(), None, 0
        self.busy, self.wanted, self.isolated, self.followed = False, None, None, None
        self.worker = WorkerThread(store, self.predictor, self)
        self.request.connect(self.worker.worker.process)
        self.worker.worker.ready.connect(self._ready)
        self.worker.worker.failed.connect(self._failed)
        self.seek.setRange(0, max((store.count or 1) - 1, 0))
        self.setWindowTitle(f"EfficientPS viewer - {store.name}")
        self.status.setText(f"{store.name}: hover for details, click a segment to isolate it (an object of a "
                            "video: follow its track; Esc stops)")
        if isinstance(spec, (str, Path)) and Path(spec).exists():
            self.settings.setValue("last_folder", str(Path(spec).resolve().parent))
        self.show_frame(0)
        return True

    def show_frame(self, index: int) -> None:
        """Show frame ``index``: at once from the cache, otherwise computed by the worker."""
        if self.store is None:
            return
        if self.store.count is not None:
            index = max(0, min(index, self.store.count - 1))
        self.index = index
        if index in self.cache:
            self.cache.move_to_end(index)
            self.show_result(*self.cache[index])
            return
        if self.busy:
            self.wanted = index
            return
        self.busy = True
        self.busy_label.setText(f"computing frame {index}...")
        self.request.emit(index)

    def _ready(self, index: int, frame, result, track_ids) -> None:
        self.cache[index] = (frame, result, track_ids)
        if len(self.cache) > CACHE_FRAMES:
            self.cache.popitem(last=False)
        if not self._next_wanted(index):
            self.show_result(frame, result, track_ids)

    def _failed(self, index: int, message: str) -> None:
        self.timer.stop()
        self.play_button.setText("play")
        self._error(message)
        self._next_wanted(index)

    def _next_wanted(self, index: int) -> bool:
        """The worker is free: go on with the frame asked for meanwhile, if any (True then)."""
        self.busy = False
        self.busy_label.setText("")
        wanted, self.wanted = self.wanted, None
        if wanted is not None and wanted != index:
            self.show_frame(wanted)
            return True
        return False

    def show_result(self, frame, result, track_ids=None) -> None:
        """Display a frame and its result (also usable without a source, e.g. in tests)."""
        self.current = (frame, result, track_ids)
        self.index = frame.meta.index
        self.refresh()
        self._follow_status()
        self._update_legend()
        if not self.seek.isSliderDown():
            self.seek.blockSignals(True)
            self.seek.setValue(self.index)
            self.seek.blockSignals(False)
        self._time_label(self.index)
        self.frame_shown.emit(self.index)

    def rendered(self) -> np.ndarray:
        """The image of the main view for the current frame and settings."""
        frame, result, tracks = self.current
        out = render_view(frame.image, result, self.classes, self.mode, self.alpha, frozenset(self.hidden),
                          self.shown_alone(), tracks, self.show_tracks)
        if self.compare == "split":
            cut = int(round(self.split * out.shape[1]))
            out[:, :cut] = frame.image[:, :cut]
            out[:, max(cut - 1, 0) : cut + 1] = (255, 255, 0)
        return out

    def refresh(self) -> None:
        if self.current is None:
            return
        self.view.set_image(self.rendered())
        side = self.compare == "side by side"
        if side and not self.raw_view.isVisible():
            self.raw_view.show()
            half = max(self.views.width() // 2, 1)
            self.views.setSizes([half, half])
        self.raw_view.setVisible(side)
        if side:
            self.raw_view.set_image(self.current[0].image)
            self.raw_view.fit()
            self.view.fit()

    def _update_legend(self) -> None:
        _, result, _ = self.current
        total = max(int(result.panoptic.numel()), 1)
        share, count = {}, {}
        for s in result.segments:
            share[s.category_id] = share.get(s.category_id, 0) + s.area
            count[s.category_id] = count.get(s.category_id, 0) + int(s.is_thing)
        self.legend.blockSignals(True)
        for i in range(self.legend.topLevelItemCount()):
            item = self.legend.topLevelItem(i)
            cat = item.data(0, Qt.ItemDataRole.UserRole)
            item.setText(1, f"{100 * share.get(cat, 0) / total:.1f} %" if cat in share else "")
            item.setText(2, str(count[cat]) if count.get(cat) else "")
        self.legend.blockSignals(False)

    # ----- inspection
    def segment_at(self, x: int, y: int):
        if self.current is None or x < 0:
            return None
        seg_id = int(self.current[1].panoptic[y, x])
        return next((s for s in self.current[1].segments if s.id == seg_id), None)

    def describe(self, x: int, y: int) -> str:
        """The hover text for pixel (x, y)."""
        if x < 0 or self.current is None:
            return ""
        seg = self.segment_at(x, y)
        if seg is None:
            return f"({x}, {y})  void"
        track = (self.current[2] or {}).get(seg.id)
        parts = [f"({x}, {y})", f"segment {seg.id}", self.classes[seg.category_id].name,
                 "thing" if seg.is_thing else "stuff"]
        if track is not None:
            parts.append(f"track {track}")
        if seg.score is not None:
            parts.append(f"score {seg.score:.2f}")
        parts.append(f"area {seg.area} px")
        return "  ".join(parts)

    def _hover(self, x: int, y: int) -> None:
        text = self.describe(x, y)
        if text:
            self.status.setText(text)

    def _click(self, x: int, y: int) -> None:
        seg = self.segment_at(x, y)
        track = (self.current[2] or {}).get(seg.id) if seg is not None else None
        if track is not None:  # an object of a video: follow its track
            self.follow(None if track == self.followed else track)
            return
        self.followed = None
        self.isolated = None if seg is None or seg.id == self.isolated else seg.id
        self.refresh()

    # ----- settings
    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.mode_box.blockSignals(True)
        self.mode_box.setCurrentIndex(VIEW_MODES.index(mode))
        self.mode_box.blockSignals(False)
        self.settings.setValue("mode", mode)
        self.refresh()

    def set_alpha(self, alpha: float) -> None:
        self.alpha = alpha
        self.settings.setValue("alpha", alpha)
        self.refresh()

    def set_compare(self, compare: str) -> None:
        self.compare = compare
        self.refresh()

    def _set_split(self, value: float) -> None:
        self.split = value
        self.refresh()

    def _toggle_class(self, item: QTreeWidgetItem, column: int) -> None:
        cat = item.data(0, Qt.ItemDataRole.UserRole)
        if item.checkState(0) == Qt.CheckState.Checked:
            self.hidden.discard(cat)
        else:
            self.hidden.add(cat)
        self.refresh()

    def set_class_visible(self, train_id: int, visible: bool) -> None:
        item = self.legend.topLevelItem(train_id)
        item.setCheckState(0, Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    # ----- files
    def _open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image or video", str(self.settings.value("last_folder", "")))
        if path:
            self.open(path)

    def _open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder", str(self.settings.value("last_folder", "")))
        if path:
            self.open(path)

    def _export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export frame to", str(self.settings.value("last_folder", "")))
        if folder:
            self.export_frame(Path(folder))

    def export_frame(self, folder: Path) -> list[Path]:
        """Write the current view (PNG), its panoptic PNG and JSON into ``folder``."""
        from efficientps_app.inference.predictor import Prediction
        from efficientps_app.outputs.sinks import export_frame

        if self.current is None:
            return []
        frame, result, tracks = self.current
        written = export_frame(folder, Prediction(frame, result, tracks), self.rendered(), self.classes)
        self.status.setText("saved " + ", ".join(p.name for p in written))
        return written

    def copy_view(self) -> None:
        if self.current is not None:
            QApplication.clipboard().setImage(to_qimage(self.rendered()))

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls:
            self.open(urls[0].toLocalFile())

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Space:
            self.toggle_play()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            self.step(1 if key == Qt.Key.Key_Right else -1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus):
            self.view.zoom(1.25 if key != Qt.Key.Key_Minus else 0.8)
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_5:
            self.set_mode(VIEW_MODES[key - Qt.Key.Key_1])
        elif key == Qt.Key.Key_T:
            self.set_show_tracks(not self.show_tracks)
        elif key == Qt.Key.Key_Escape and (self.followed is not None or self.isolated is not None):
            self.follow(None)
        else:
            super().keyPressEvent(event)

    def _error(self, message: str) -> None:
        self.last_error = message
        self.status.setText(f"error: {message}")
        if self.isVisible() and QApplication.platformName() != "offscreen":
            QMessageBox.warning(self, "EfficientPS viewer", message)

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.request.disconnect()
            self.worker.stop()
            self.store.close()
            self.worker = None

    def closeEvent(self, event) -> None:  # noqa: N802
        self.timer.stop()
        self._stop_worker()
        self.settings.sync()
        super().closeEvent(event)
