"""The synthetic drive: deterministic, moving, with audio, written atomically as H.264 + AAC, with video panoptic
ground truth of every encoded frame on request."""

from __future__ import annotations

import json

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


def test_ground_truth_matches_every_encoded_frame(tmp_path):
    import av

    from train.panoptic_io import read_panoptic_png
    from train.synth_video import render_drive_frames

    video = write_synthetic_drive(tmp_path / "d.mp4", seconds=2.0, fps=6, size=(64, 128), seed=1, ground_truth=True)
    data = json.loads((tmp_path / "d_gt.json").read_text())
    rendered = list(render_drive_frames(64, 128, seconds=2.0, fps=6, seed=1))
    with av.open(str(video)) as c:
        decoded = [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]
    assert len(decoded) == len(rendered) == len(data["images"]) == len(data["annotations"]) == 12
    assert data["videos"] == [{"id": "d", "file_name": "d.mp4", "fps": 6, "num_frames": 12, "height": 64, "width": 128}]
    for i, (image, frame) in enumerate(zip(decoded, rendered)):
        errors = [np.abs(image - r.image).mean() for r in rendered]
        assert int(np.argmin(errors)) == i and errors[i] < 8  # decoded frame i is rendered frame i
        info = data["images"][i]
        assert (info["id"], info["frame_index"], info["time_s"]) == (f"d_{i:06d}", i, round(i / 6, 6))
        ids = read_panoptic_png(tmp_path / "d_gt" / f"d_{i:06d}.png").astype(np.int64)
        expected = np.where(frame.inst >= 1000, frame.inst, np.where(frame.label == 1, 0, frame.label))  # ego: void
        assert np.array_equal(ids, expected)
        segments = {s["id"]: s for s in data["annotations"][i]["segments_info"]}
        assert {k: int((ids == k).sum()) for k in segments} == {k: s["area"] for k, s in segments.items()}
        assert all(s["category_id"] == (k // 1000 if k >= 1000 else k) for k, s in segments.items())
    # ids follow the objects: the car ahead is car 1 in every frame, most things last several frames
    things = [{s["id"] for s in a["segments_info"] if s["id"] >= 1000} for a in data["annotations"]]
    assert all(26001 in t for t in things)
    lasting = [k for k in set().union(*things) if sum(k in t for t in things) >= 3]
    assert len(lasting) >= 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.mp4", "d_gt", "d_gt.json"]


def test_synth_video_command_with_ground_truth(tmp_path, capsys):
    out = tmp_path / "drive.mp4"
    assert main(["data", "synth-video", str(out), "--seconds", "1", "--fps", "4", "--size", "64", "128",
                 "--ground-truth"]) == 0
    assert "evaluate-video" in capsys.readouterr().err
    assert len(list((tmp_path / "drive_gt").glob("*.png"))) == 4
    (tmp_path / "other_gt.json").write_text("{}")  # the ground truth of a drive not written yet
    assert main(["data", "synth-video", str(tmp_path / "other.mp4"), "--seconds", "1", "--ground-truth"]) == 1
    assert "other_gt.json already exists" in capsys.readouterr().err
    assert not (tmp_path / "other.mp4").exists()
