"""Zoomable, pannable image views that report the image pixel under the mouse, and can be linked."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QSlider


def to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> QImage (a copy, so the array may go)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImageView(QGraphicsView):
    """Shows one image. Wheel or +/- zooms, dragging pans; ``hovered(x, y)`` and ``clicked(x, y)`` give
    image pixel coordinates ((-1, -1) outside the image)."""

    hovered = Signal(int, int)
    clicked = Signal(int, int)
    zoomed = Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self.scene().addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setMouseTracking(True)
        self._size = (0, 0)
        self._fitted = False
        self.linked: list[ImageView] = []

    def set_image(self, rgb: np.ndarray) -> None:
        self._item.setPixmap(QPixmap.fromImage(to_qimage(rgb)))
        size = (rgb.shape[1], rgb.shape[0])
        if size != self._size:
            self._size = size
            self.scene().setSceneRect(0, 0, *size)
            self.fit()

    @property
    def fitted(self) -> bool:
        """True while the whole image is fitted into the view (not zoomed or panned since)."""
        return self._fitted

    def fit(self) -> None:
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom(self, factor: float, propagate: bool = True) -> None:
        self.scale(factor, factor)
        self._fitted = False
        if propagate:
            for other in self.linked:
                other.zoom(factor, propagate=False)
            self.zoomed.emit(factor)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def wheelEvent(self, event) -> None:  # noqa: N802
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def image_pos(self, view_pos) -> tuple[int, int]:
        p: QPointF = self.mapToScene(view_pos)
        x, y = int(p.x()), int(p.y())
        if 0 <= x < self._size[0] and 0 <= y < self._size[1] and p.x() >= 0 and p.y() >= 0:
            return x, y
        return -1, -1

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        super().mouseMoveEvent(event)
        self.hovered.emit(*self.image_pos(event.position().toPoint()))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(*self.image_pos(event.position().toPoint()))


def link(a: ImageView, b: ImageView) -> None:
    """Zoom and pan the two views together."""
    a.linked.append(b)
    b.linked.append(a)
    for first, second in ((a, b), (b, a)):
        first.horizontalScrollBar().valueChanged.connect(second.horizontalScrollBar().setValue)
        first.verticalScrollBar().valueChanged.connect(second.verticalScrollBar().setValue)


def slider(lo: int, hi: int, value: int, on_change) -> QSlider:
    """A horizontal slider over [lo, hi] calling ``on_change(value)``."""
    widget = QSlider(Qt.Orientation.Horizontal)
    widget.setRange(lo, hi)
    widget.setValue(value)
    if on_change is not None:
        widget.valueChanged.connect(on_change)
    return widget
