"""The synthetic drive: deterministic, moving, with audio, written atomically as H.264 + AAC."""

from __future__ import annotations

import numpy as np

from efficientps_app.cli import main
from tests.media import probe
from train.synth_video import render_drive, write_synthetic_drive


def test_drive_is_deterministic_and_moves():
    a = list(render_drive(96, 192, seconds=1.0, fps=6, seed=3))
    b = list(render_drive(96, 192, seconds=1.0, fps=6, seed=3))
    assert len(a) == 6 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], next(render_drive(96, 192, seconds=1.0, fps=6, seed=4)))
    moving = [np.abs(a[i + 1].astype(int) - a[i]).mean() for i in range(5)]
    assert min(moving) > 1.0  # every frame differs from the previous one: the camera moves
    sky = [f[:10].astype(int) for f in a]
    assert max(np.abs(s - sky[0]).mean() for s in sky) < 6  # the sky stays put (noise only)


def test_written_drive_has_h264_video_and_aac_audio(tmp_path):
    path = write_synthetic_drive(tmp_path / "d.mp4", seconds=1.0, fps=8, size=(64, 128), seed=0)
    info = probe(path)
    assert (info["video_codec"], info["audio_codec"], info["size"]) == ("h264", "aac", (64, 128))
    assert len(info["times"]) == 8 and abs(info["audio_end"] - 1.0) < 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["d.mp4"]


def test_synth_video_command(tmp_path, capsys):
    out = tmp_path / "drive.mp4"
    assert main(["data", "synth-video", str(out), "--seconds", "1", "--fps", "4", "--size", "64", "128"]) == 0
    assert len(probe(out)["times"]) == 4
    assert main(["data", "synth-video", str(out), "--seconds", "1"]) == 1
    assert "--overwrite" in capsys.readouterr().err
