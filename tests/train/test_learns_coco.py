"""Proof that it learns any COCO panoptic dataset: the tiny preset trained from scratch on a synthetic one with
a class list of its own (5 stuff, 3 things); the model then segments a video, exports to ONNX and is viewed,
each with the dataset's classes in its legend (CPU, one thread: a few minutes)."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from efficientps_app.cli import main
from efficientps_app.inference.predictor import Predictor
from efficientps_app.outputs.render import legend_entries
from model import PRESETS, build_efficientps
from model.weights import load_config
from train.config import resolve_config
from train.datasets import open_split
from train.evaluate import evaluate_model
from train.loop import fit
from train.synth_coco import parse_classes, render_shapes, shapes_categories, write_synthetic_coco

CLASSES = "sky,sea,sand,grass,rock:boat,buoy,swimmer"
SIZE = (64, 96)
RECIPE = dict(preset="tiny", epochs=20, batch_size=4, scale_range=(0.75, 1.25), workers=0,
              optimizer="adam", lr=4e-3, eval_interval=20, device="cpu", seed=0)
"""Also in the docs, as a command line (the recipe's 1024x2048 crop does nothing at this size)."""


def _video(path: Path, frames: list[np.ndarray], fps: int = 5) -> Path:
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _legend_is_drawn(overlay: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]]) -> bool:
    """Every legend entry's colour swatch is in the overlay's right half, where the legend goes (the blended
    overlay itself has no pixel of exactly a class colour)."""
    corner = overlay[:, overlay.shape[1] // 2 :].reshape(-1, 3)
    return bool(entries) and all((corner == np.array(color, np.uint8)).all(1).sum() >= 4 for _, color in entries)


def _check_the_apps(weights: Path, tmp_path: Path, names: list[str]) -> None:
    """segment (video, and an image with the PyTorch and the ONNX model), export-onnx and the viewer."""
    cats = shapes_categories(parse_classes(CLASSES))
    # frames three times the training size, run at it (--imgsz): the overlay has room for the whole legend
    frames = [cv2.resize(render_shapes(*SIZE, cats, seed=900 + i)[0], (3 * SIZE[1], 3 * SIZE[0]),
                         interpolation=cv2.INTER_NEAREST) for i in range(6)]
    imgsz = ["--imgsz", str(max(SIZE))]
    video = _video(tmp_path / "shapes.mp4", frames)
    assert main(["segment", str(video), "-o", str(tmp_path / "seg" / "shapes.mp4"), "--weights", str(weights),
                 "--save-json", "-q", *imgsz]) == 0
    lines = (tmp_path / "seg" / "shapes.jsonl").read_text().splitlines()
    found = {s["category"] for line in lines for s in json.loads(line)["segments"]}
    assert len(lines) == 6 and found and found <= set(names), found
    onnx = tmp_path / "shapes.onnx"
    assert main(["export-onnx", "--weights", str(weights), "-o", str(onnx)]) == 0
    Image.fromarray(frames[0]).save(tmp_path / "frame.png")
    for model, out in ((weights, tmp_path / "torch"), (onnx, tmp_path / "onnx")):
        assert main(["segment", str(tmp_path / "frame.png"), "-o", str(out), "--weights", str(model), "-q", *imgsz]) == 0
        predictor = Predictor(model, device="cpu", imgsz=max(SIZE))
        assert [c.name for c in predictor.classes] == names
        entries = legend_entries(predictor.predict(frames[0]), predictor.classes)
        assert {text.split(" x")[0] for text, _ in entries} <= set(names) and len(entries) >= 3, entries
        assert _legend_is_drawn(np.asarray(Image.open(out / "frame.png").convert("RGB")), entries)
    pytest.importorskip("PySide6", reason="PySide6 is not installed: the viewer is not checked")
    assert main(["view", str(tmp_path / "frame.png"), "--weights", str(onnx), "--screenshot",
                 str(tmp_path / "view.png"), "--size", "700", "420", *imgsz]) == 0
    from PySide6.QtWidgets import QApplication

    from efficientps_app.viewer.window import ViewerWindow

    QApplication.instance() or QApplication(["test"])
    window = ViewerWindow(Predictor(onnx, device="cpu"))
    assert [window.legend.topLevelItem(i).text(0) for i in range(window.legend.topLevelItemCount())] == names
    window.close()


@pytest.mark.slow
def test_tiny_model_learns_a_coco_panoptic_dataset_with_its_own_classes(tmp_path: Path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "shapes"
    write_synthetic_coco(data, train=48, val=8, size=SIZE, seed=3, classes=parse_classes(CLASSES))
    val = open_split(data, "val")
    names = [c.name for c in val.classes]
    assert names == ["sky", "sea", "sand", "grass", "rock", "boat", "buoy", "swimmer"]
    torch.manual_seed(0)
    untrained = evaluate_model(build_efficientps(dataclasses.replace(PRESETS["tiny"], classes=val.classes)),
                               val.samples, val.classes, torch.device("cpu"))
    result = fit(resolve_config("official", data=str(data), project=str(tmp_path), name="shapes", **RECIPE))
    trained = result.last_eval
    print(f"untrained PQ {untrained['All']['pq']:.4f} mIoU {untrained['miou']:.4f}; trained: {trained['All']}, "
          f"things {trained['Things']}, stuff {trained['Stuff']}, mIoU {trained['miou']:.4f}")
    assert untrained["All"]["pq"] < 0.02
    assert trained["All"]["pq"] > 0.35 and trained["Things"]["pq"] > 0.25 and trained["Stuff"]["pq"] > 0.3, trained
    assert trained["miou"] > untrained["miou"] + 0.3
    weights = result.run_dir / "weights" / "best.safetensors"
    assert [c.name for c in load_config(weights).classes] == names
    _check_the_apps(weights, tmp_path, names)
