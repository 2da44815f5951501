"""The data, train and evaluate commands end to end on a small synthetic dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from efficientps_app.cli import main


def test_synth_prepare_train_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "cs"
    assert main(["data", "synth", str(data), "--train", "4", "--val", "2", "--size", "96", "192"]) == 0
    assert main(["data", "prepare", str(data)]) == 0
    assert (data / "gtFine" / "cityscapes_panoptic_val.json").is_file()
    capsys.readouterr()

    args = ["train", "--data", str(data), "--preset", "tiny", "--epochs", "1", "--batch-size", "2",
            "--crop", "96", "192", "--workers", "0", "--device", "cpu", "--name", "smoke", "--lr", "0.01",
            "--set", "accumulate=2", "--set", "scale_range=[0.8, 1.2]", "--scale-lr"]
    assert main(args) == 0
    weights = tmp_path / "runs/train/smoke/weights/best.safetensors"
    assert weights.is_file()
    saved = (tmp_path / "runs/train/smoke/config.yaml").read_text()
    assert "accumulate: 2" in saved and "- 0.8" in saved
    _, err = capsys.readouterr()
    assert "best PQ" in err
    assert "schedule: lr 0.0025 (= 0.01 x 4/16, scaled by total batch)" in err  # batch 2 x accumulate 2
    assert "schedule: lr 0.0025" in (tmp_path / "runs/train/smoke/train.log").read_text()
    assert main(args) == 1  # the run exists: refuse to overwrite it
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--resume", "--name", "smoke"]) == 0  # already complete: nothing left to do

    assert main(["evaluate", "--data", str(data), "--weights", str(weights), "--device", "cpu", "--json", "w.json"]) == 0
    out, _ = capsys.readouterr()
    assert "All (N=" in out and "Things" in out
    assert set(json.loads((tmp_path / "w.json").read_text())) >= {"All", "Things", "Stuff", "per_class", "miou"}

    gt = data / "gtFine" / "cityscapes_panoptic_val.json"
    assert main(["evaluate", "--data", str(data), "--predictions", str(gt), "--json", "p.json"]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["All"]["pq"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["data", "prepare", "/no/such/folder"], "dataset folder not found"),
        (["train", "--data", "/no/such/folder", "--preset", "tiny"], "no '*_leftImg8bit.png' images found"),
        (["train", "--data", ".", "--preset", "b99"], "unknown preset"),
        (["train", "--resume", "/no/last.ckpt"], "checkpoint not found"),
        (["evaluate", "--data", "."], "exactly one of --weights or --predictions"),
        (["train", "--data", ".", "--set", "bogus=1"], "unknown TrainConfig fields: ['bogus']"),
        (["train", "--data", ".", "--set", "noequals"], "--set expects KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line(args, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err
