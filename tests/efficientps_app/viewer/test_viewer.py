"""The viewer under QT_QPA_PLATFORM=offscreen: modes, hover, toggles, isolation, worker, video, screenshots."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6", reason="PySide6 is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402

from efficientps_app.cli import main  # noqa: E402
from efficientps_app.inference.predictor import Predictor  # noqa: E402
from efficientps_app.sources.frames import Frame, FrameMeta  # noqa: E402
from efficientps_app.viewer.window import ViewerWindow  # noqa: E402
from model.classes import CITYSCAPES_CLASSES as CLASSES  # noqa: E402
from tests.efficientps_app.results import make_result  # noqa: E402
from tests.media import make_video  # noqa: E402


@pytest.fixture
def window(qtbot, tiny_weights, tmp_path):
    settings = QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat)
    win = ViewerWindow(Predictor(tiny_weights, device="cpu"), settings)
    qtbot.addWidget(win)
    win.resize(900, 600)
    win.show()
    return win


def _hand_made(win):
    image = np.full((60, 100, 3), 50, np.uint8)
    result = make_result(60, 100, [(10, 10, 40, 40, 13), (60, 20, 80, 50, 11)], stuff=0, score=0.9)
    win.show_result(Frame(image, FrameMeta(index=0, source_name="hand-made")), result, {1: 7, 2: 8})
    return image, result


def test_modes_switch_and_differ(window, qtbot):
    _hand_made(window)
    shown = {}
    for key, mode in zip((Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4, Qt.Key.Key_5),
                         ("overlay", "semantic", "instances", "boundaries", "raw")):
        qtbot.keyClick(window, key)
        assert window.mode == mode and window.mode_box.currentIndex() == "12345".index(str(key - Qt.Key.Key_1 + 1))
        shown[mode] = window.rendered()
    assert (shown["raw"] == 50).all()
    assert shown["semantic"][25, 25].tolist() == list(CLASSES[13].color)  # class colour, no shade
    assert shown["instances"][5, 95].tolist() == [16, 16, 16]  # stuff dimmed in the instances mode
    assert shown["boundaries"][10, 20].tolist() == [255, 255, 255]
    assert len({v.tobytes() for v in shown.values()}) == 5


def test_hover_reports_the_segment_under_the_cursor(window):
    _hand_made(window)
    text = window.describe(20, 20)
    for part in ("(20, 20)", "segment 1", "car", "thing", "track 7", "score 0.90", "area 900 px"):
        assert part in text
    assert "road" in window.describe(95, 5) and "stuff" in window.describe(95, 5)
    window.view.hovered.emit(65, 30)
    assert "person" in window.status.text() and "track 8" in window.status.text()


def test_class_toggle_and_isolation_change_pixels(window):
    image, _ = _hand_made(window)
    before = window.rendered()
    window.set_class_visible(13, False)  # hide cars
    hidden = window.rendered()
    assert 13 in window.hidden and (hidden[25, 25] == image[25, 25]).all() and (before[25, 25] != image[25, 25]).any()
    window.set_class_visible(13, True)
    window._click(65, 30)  # isolate the person (it has a track: follow it)
    isolated = window.rendered()
    assert window.followed == 8 and window.shown_alone() == 2
    assert (isolated[5, 95] == image[5, 95]).all() and (isolated[30, 65] != image[30, 65]).any()
    window._click(65, 30)
    assert window.followed is None and window.shown_alone() is None
    window._click(95, 5)  # stuff has no track: isolated in this frame only
    assert window.isolated == 3 and window.followed is None


def test_legend_shows_shares_and_counts(window):
    _hand_made(window)
    car = window.legend.topLevelItem(13)
    assert car.text(1) == "15.0 %" and car.text(2) == "1"
    assert window.legend.topLevelItem(12).text(1) == ""  # no rider


def test_track_ids_and_following_one_track(window, qtbot, tmp_path):
    image = np.full((60, 100, 3), 50, np.uint8)

    def show(index, things, tracks):
        window.show_result(Frame(image, FrameMeta(index=index, source_name="v.mp4")),
                           make_result(60, 100, things, stuff=0), tracks)

    show(0, [(10, 10, 40, 40, 13), (60, 20, 80, 50, 11)], {1: 7, 2: 8})
    with_ids = window.rendered()
    window.set_show_tracks(False)
    plain = window.rendered()
    qtbot.keyClick(window, Qt.Key.Key_T)  # T toggles the ids back on
    assert window.show_tracks and window.tracks_box.isChecked()
    changed = np.argwhere((with_ids != plain).any(-1))
    assert len(changed) and all(10 <= y < 40 and 10 <= x < 40 or 20 <= y < 50 and 60 <= x < 80 for y, x in changed)
    yellow = (with_ids[..., 0] > 180) & (with_ids[..., 1] > 180) & (with_ids[..., 2] < 90)
    assert yellow[10:40, 10:40].sum() > 3 and yellow[20:50, 60:80].sum() > 3  # "#7" and "#8" in yellow
    window._click(20, 20)  # click the car: follow track 7
    assert window.followed == 7 and "following track 7: car" in window.status.text()
    followed = window.rendered()
    assert (followed[30, 70] == image[30, 70]).all() and (followed[25, 25] != image[25, 25]).any()
    # next frame: the car moved right and is segment 2 now; the person is segment 1
    show(1, [(60, 20, 80, 50, 11), (16, 10, 46, 40, 13)], {1: 8, 2: 7})
    followed = window.rendered()
    assert window.shown_alone() == 2 and (followed[25, 44] != image[25, 44]).any()
    assert (followed[30, 70] == image[30, 70]).all() and "frame 2" in window.status.text()
    shot = tmp_path / "follow.png"
    assert window.grab().save(str(shot)) and Image.open(shot).size == (window.width(), window.height())
    show(2, [(60, 20, 80, 50, 11)], {1: 8})  # the car left the picture
    assert "not in frame 3" in window.status.text() and (window.rendered() == image).all()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.followed is None and (window.rendered()[30, 70] != image[30, 70]).any()


def test_worker_delivers_frames_while_the_ui_stays_responsive(window, qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (192, 384, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    with qtbot.waitSignal(window.frame_shown, timeout=60_000):
        assert window.open(str(folder))
    assert window.busy is False and window.current[0].meta.index == 0
    with qtbot.waitSignal(window.frame_shown, timeout=60_000):
        window.step(1)
    timer.stop()
    assert window.index == 1 and len(ticks) >= 3  # the UI thread kept running its timer
    window.step(-1)  # back: from the cache, at once
    assert window.index == 0 and not window.busy


def test_video_seek_and_play(window, qtbot, tmp_path):
    video = make_video(tmp_path / "v.mp4", frames=8, size=(64, 96), fps=10, audio=None)
    with qtbot.waitSignal(window.frame_shown, timeout=60_000):
        window.open(str(video))
    assert window.seek.maximum() == 7
    with qtbot.waitSignal(window.frame_shown, timeout=60_000):
        window.show_frame(5)
    assert window.index == 5 and window.time_label.text().startswith("6/8")
    assert window.current[2] is not None  # video frames carry track ids
    window.toggle_play()
    qtbot.waitUntil(lambda: window.index == 7, timeout=60_000)
    qtbot.waitUntil(lambda: not window.timer.isActive(), timeout=10_000)  # stops at the end


def test_bad_input_never_kills_the_window(window, qtbot, tmp_path):
    assert not window.open(str(tmp_path / "missing.png"))
    assert "no such file" in window.last_error
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "b.png")
    window.open(str(folder))
    qtbot.waitUntil(lambda: "a.png" in window.last_error, timeout=60_000)
    with qtbot.waitSignal(window.frame_shown, timeout=60_000):
        window.step(1)
    assert window.index == 1


def test_export_and_settings(window, tmp_path, tiny_weights):
    _hand_made(window)
    written = window.export_frame(tmp_path / "export")
    assert [p.name for p in written] == ["hand-made_000000_view.png", "hand-made_000000_panoptic.png",
                                         "hand-made_000000_panoptic.json"]
    assert all(p.is_file() for p in written)
    window.set_alpha(0.8)
    window.set_mode("semantic")
    window.settings.sync()
    again = ViewerWindow(Predictor(tiny_weights, device="cpu"), window.settings)
    assert again.alpha == pytest.approx(0.8) and again.mode == "semantic"
    again.close()


def test_screenshot_from_the_command_line(tiny_weights, tmp_path, capsys):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    out = tmp_path / "shot.png"
    code = main(["view", str(tmp_path / "x.png"), "--weights", str(tiny_weights), "--screenshot", str(out),
                 "--size", "800", "500", "--mode", "semantic"])
    assert code == 0, capsys.readouterr().err
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert shot.shape[:2] == (500, 800) and shot.std() > 10  # a real window, not a blank image
    assert main(["view", str(tmp_path / "none.png"), "--weights", str(tiny_weights), "--screenshot", str(out)]) == 1


def test_no_display_is_a_one_line_error(tiny_weights, monkeypatch, capsys):
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["view", "--weights", str(tiny_weights)]) == 1
    assert "no display here" in capsys.readouterr().err


def test_playback_without_a_frame_rate_uses_the_common_fallback(window, qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(folder / f"{i}.png")
    with qtbot.waitSignal(window.frame_shown, timeout=60_000):
        window.open(str(folder))
    window.toggle_play()
    assert window.timer.interval() == 33  # 30 frames/s, as everywhere else (it was 10 here)
    window.toggle_play()
