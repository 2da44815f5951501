"""``efficientps evaluate-video`` on ``segment --save-panoptic`` output of a synthetic drive: the file path
and the in-memory scorer agree; perfect predictions score 100, id-shuffled ones do not; bad input is one
line and exit code 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from efficientps_app.cli import main
from train.synth_video import render_drive_frames, write_synthetic_drive

SIZE, SECONDS, FPS, SEED = (64, 128), 2.0, 6, 3


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("drive")
    return write_synthetic_drive(folder / "drive.mp4", SECONDS, FPS, SIZE, SEED, ground_truth=True)


def _predictions_from_gt(drive: Path, out: Path, tracks) -> Path:
    """The ground truth rewritten as predictions; ``tracks(frame, id)`` gives each thing its track id."""
    data = json.loads(drive.with_name("drive_gt.json").read_text())
    for i, ann in enumerate(data["annotations"]):
        for seg in ann["segments_info"]:
            if seg["id"] >= 1000:
                seg["track_id"] = tracks(i, seg["id"])
    del data["videos"]
    shutil.copytree(drive.with_name("drive_gt"), out.with_suffix(""))
    out.write_text(json.dumps(data))
    return out


def _evaluate(gt: Path, pred: Path, out: Path, capsys) -> tuple[int, dict, str]:
    code = main(["evaluate-video", "--gt", str(gt), "--predictions", str(pred), "--json", str(out)])
    captured = capsys.readouterr()
    return code, (json.loads(out.read_text()) if code == 0 else {}), captured.out + captured.err


def test_perfect_and_id_shuffled_predictions(drive, tmp_path, capsys):
    gt = drive.with_name("drive_gt.json")
    perfect = _predictions_from_gt(drive, tmp_path / "perfect.json", lambda i, k: k)
    code, r, text = _evaluate(gt, perfect, tmp_path / "p.json", capsys)
    assert code == 0 and "STQ" in text and "VPQ k=10" in text and "12 of 12" in text
    assert r["stq"] == pytest.approx(1.0) and r["vpq_mean"]["All"] == pytest.approx(1.0)
    assert r["id_switches"] == 0 and r["recovered_tracks"] == r["gt_tracks"]
    shuffle = np.random.default_rng(0).permutation(100_000)
    shuffled = _predictions_from_gt(drive, tmp_path / "shuffled.json",
                                    lambda i, k: int(shuffle[(k * 31 + i * 7) % 100_000]))  # a new id each frame
    code, s, _ = _evaluate(gt, shuffled, tmp_path / "s.json", capsys)
    assert code == 0 and s["sq"] == pytest.approx(1.0) and s["vpq"]["0"]["All"]["pq"] == pytest.approx(1.0)
    assert s["stq"] < 0.8 and s["id_switches"] > 0 and s["recovered_tracks"] == 0


def test_segment_output_scores_like_the_in_memory_scorer(drive, tiny_weights, tmp_path, capsys):
    from efficientps_app.inference.predictor import Predictor
    from train.panoptic_io import eval_categories
    from train.video_oracle import VideoScorer

    out = tmp_path / "seg.mp4"
    assert main(["segment", str(drive), "-o", str(out), "--weights", str(tiny_weights), "--device", "cpu",
                 "--save-panoptic", "-q"]) == 0
    gt = drive.with_name("drive_gt.json")
    code, r, _ = _evaluate(gt, tmp_path / "seg_panoptic.json", tmp_path / "r.json", capsys)
    assert code == 0 and r["frames"] == 12
    predictor = Predictor(tiny_weights, device="cpu")
    scorer = VideoScorer(predictor.classes, {c["id"]: bool(c["isthing"]) for c in eval_categories()})
    frames = list(render_drive_frames(*SIZE, SECONDS, FPS, SEED))
    for i, (frame, pred) in enumerate(zip(frames, predictor.stream(drive))):
        scorer.add(i, frame.inst, pred.result, pred.track_ids)
    expected = json.loads(json.dumps(scorer.results(), default=float))
    for key in ("stq", "aq", "sq", "vpq_mean", "id_switches", "gt_tracks", "recovered_tracks"):
        assert r[key] == pytest.approx(expected[key]), key


def test_bad_input_is_one_line(drive, tmp_path, capsys):
    gt = drive.with_name("drive_gt.json")
    code, _, text = _evaluate(tmp_path / "missing.json", gt, tmp_path / "x.json", capsys)
    assert code == 1 and "no such file" in text and "Traceback" not in text
    longer = write_synthetic_drive(tmp_path / "long.mp4", 3.0, FPS, SIZE, SEED, ground_truth=True)
    data = json.loads(longer.with_name("long_gt.json").read_text())  # 18 frames as predictions of a 12-frame drive
    del data["videos"]
    shutil.copytree(longer.with_name("long_gt"), tmp_path / "long_pred")
    (tmp_path / "long_pred.json").write_text(json.dumps(data))
    code, _, text = _evaluate(gt, tmp_path / "long_pred.json", tmp_path / "x.json", capsys)
    assert code == 1 and "long_000012 has no ground truth" in text and not (tmp_path / "x.json").exists()
    (tmp_path / "bad.json").write_text("{not json")
    code, _, text = _evaluate(gt, tmp_path / "bad.json", tmp_path / "x.json", capsys)
    assert code == 1 and "not a COCO panoptic JSON" in text
