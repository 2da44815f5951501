"""Track ids in the viewer: show them (the "track ids" check box, key T), and follow one object through a
video (click it; Esc stops): only its segment is shown, frame after frame, and a zoomed view keeps it in
sight."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox


class FollowMixin:
    """Needs ``current``, ``index``, ``classes``, ``view``, ``status``, ``settings``, ``isolated``,
    ``followed``, ``show_tracks`` and ``refresh`` from the window."""

    def _tracks_checkbox(self) -> QCheckBox:
        box = QCheckBox("track ids")
        box.setChecked(self.show_tracks)
        box.toggled.connect(self.set_show_tracks)
        return box

    def set_show_tracks(self, show: bool) -> None:
        self.show_tracks = show
        self.tracks_box.blockSignals(True)
        self.tracks_box.setChecked(show)
        self.tracks_box.blockSignals(False)
        self.settings.setValue("show_tracks", show)
        self.refresh()

    def follow(self, track: int | None) -> None:
        """Show only the object with this track id, in every frame (None: show everything again)."""
        self.followed, self.isolated = track, None
        self.refresh()
        self._follow_status()

    def followed_segment(self):
        """The current frame's segment of the followed track (None when not following or not in this frame)."""
        if self.followed is None or self.current is None:
            return None
        ids = [sid for sid, t in (self.current[2] or {}).items() if t == self.followed]
        return next((s for s in self.current[1].segments if ids and s.id == ids[0]), None)

    def shown_alone(self) -> int | None:
        """The segment id shown alone: the followed track's (-1 when it is not in this frame) or the isolated one."""
        if self.followed is None:
            return self.isolated
        seg = self.followed_segment()
        return -1 if seg is None else seg.id

    def _follow_status(self) -> None:
        if self.followed is None:
            return
        seg = self.followed_segment()
        if seg is None:
            self.status.setText(f"following track {self.followed}: not in frame {self.index + 1}")
            return
        x, y, w, h = seg.bbox
        self.status.setText(f"following track {self.followed}: {self.classes[seg.category_id].name}, "
                            f"frame {self.index + 1}, at ({x + w // 2}, {y + h // 2})  (Esc stops)")
        if not self.view.fitted:  # zoomed in: keep the object in view
            self.view.centerOn(x + w / 2, y + h / 2)
