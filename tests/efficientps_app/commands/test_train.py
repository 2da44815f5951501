"""The data, train and evaluate commands end to end on a small synthetic dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from efficientps_app.cli import main
from model import PRESETS, build_efficientps
from model.weights import load_config, save_model


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
        (["train", "--data", "/no/such/folder", "--preset", "tiny"], "/no/such/folder: dataset folder not found"),
        (["train", "--data", ".", "--preset", "tiny"], "neither a Cityscapes folder"),
        (["train", "--data", ".", "--preset", "b99"], "unknown preset"),
        (["train", "--resume", "/no/last.ckpt"], "checkpoint not found"),
        (["evaluate", "--data", "."], "exactly one of --weights or --predictions"),
        (["train", "--data", ".", "--set", "bogus=1"], "unknown TrainConfig fields: ['bogus']"),
        (["train", "--data", ".", "--set", "noequals"], "--set expects KEY=VALUE"),
        (["data", "synth", "x", "--classes", "sky,sea"], "add --format coco-panoptic"),
        (["data", "synth", "x", "--format", "coco-panoptic", "--classes", "sky,sea"], "--classes expects STUFF:THINGS"),
        (["data", "convert", "/no/such", "out"], "/no/such: dataset folder not found"),
    ],
)
def test_bad_input_is_one_line(args, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err


def test_coco_panoptic_dataset_of_its_own_from_synth_to_evaluate(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "shapes"
    assert main(["data", "synth", str(data), "--format", "coco-panoptic", "--classes", "sky,sea,sand:boat,buoy",
                 "--train", "4", "--val", "2", "--size", "64", "96"]) == 0
    assert main(["data", "prepare", str(data)]) == 0
    assert "5 classes (3 stuff, 2 things: sky, sea, sand, boat, buoy)" in capsys.readouterr().err
    torch.manual_seed(0)
    cityscapes = save_model(build_efficientps(PRESETS["tiny"]), tmp_path / "cityscapes.safetensors")
    args = ["train", "--data", str(data), "--preset", "tiny", "--epochs", "1", "--batch-size", "2", "--workers", "0",
            "--device", "cpu", "--name", "shapes", "--init-from", str(cityscapes)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"--init-from {cityscapes}: loaded " in err and "semantic_head.conv_logits.weight [5, 128, 1, 1] (file [19, 128, 1, 1])" in err
    weights = tmp_path / "runs/train/shapes/weights/best.safetensors"
    assert [c.name for c in load_config(weights).classes] == ["sky", "sea", "sand", "boat", "buoy"]
    assert main(["evaluate", "--data", str(data), "--weights", str(weights), "--device", "cpu", "--json", "w.json"]) == 0
    assert "buoy" in capsys.readouterr().out
    assert json.loads((tmp_path / "w.json").read_text())["All"]["n"] >= 1
    gt = data / "annotations" / "panoptic_val.json"
    assert main(["evaluate", "--data", str(data), "--predictions", str(gt), "--json", "p.json"]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["All"]["pq"] == pytest.approx(1.0)
    assert main(["evaluate", "--data", str(data), "--weights", str(cityscapes), "--device", "cpu"]) == 1
    assert "predicts 19 classes" in capsys.readouterr().err
    assert main(["data", "synth", str(data), "--format", "coco-panoptic", "--classes", "2:1"]) == 1
    assert "exists already (pass --overwrite" in capsys.readouterr().err
