"""``--save-semantic``, ``--save-json --masks rle`` and ``--save-crops``: each agrees with the COCO panoptic output
of the same run, on images and on video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientps_app.assets import DEMO_WEIGHTS
from efficientps_app.cli import main
from efficientps_app.outputs.rle import decode_mask
from efficientps_app.sources.dispatch import open_source
from model.classes import CITYSCAPES_CLASSES as CLASSES
from tests.media import make_video

BY_LABEL = {c.label_id: c for c in CLASSES}
EXPORTS = ["--save-panoptic", "--save-json", "--masks", "rle", "--save-semantic", "--save-crops"]


@pytest.fixture(scope="module")
def scenes() -> list[np.ndarray]:
    from train.synth import render_scene

    return [render_scene(64, 128, seed)[0] for seed in range(3)]


def _panoptic_ids(path: Path) -> np.ndarray:
    png = np.asarray(Image.open(path)).astype(np.int64)
    return png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]


def _check_frame(ids: np.ndarray, infos: list[dict], semantic: Path, stem: str, line: dict, crops: Path,
                 image: np.ndarray) -> None:
    train, label = (np.asarray(Image.open(semantic / f"{stem}_{k}.png")) for k in ("trainIds", "labelIds"))
    color = np.asarray(Image.open(semantic / f"{stem}_color.png"))
    assert train.dtype == label.dtype == np.uint8 and train.ndim == label.ndim == 2 and color.shape == (*ids.shape, 3)
    assert (train[ids == 0] == 255).all() and (label[ids == 0] == 0).all() and (color[ids == 0] == 0).all()
    for info in infos:
        spec, mask = BY_LABEL[info["category_id"]], ids == info["id"]
        assert (label[mask] == spec.label_id).all() and (train[mask] == spec.train_id).all()
        assert (color[mask] == spec.color).all()
    by_area = sorted((s["area"], s["category"]) for s in line["segments"])
    assert by_area == sorted((i["area"], BY_LABEL[i["category_id"]].name) for i in infos)
    for seg in line["segments"]:  # the RLE mask of every segment is its pixels in the panoptic PNG
        mask = decode_mask(seg["segmentation"])
        assert mask.sum() == seg["area"] and len(np.unique(ids[mask])) == 1
        if seg["isthing"]:
            x, y, w, h = seg["bbox"]
            crop = np.asarray(Image.open(crops / seg["category"] / f"{stem}_{seg['id']}.png"))
            np.testing.assert_array_equal(crop, image[y : y + h, x : x + w])  # the source pixels in the box
    assert len(list(crops.glob(f"*/{stem}_*.png"))) == sum(s["isthing"] for s in line["segments"])


def test_image_folder_exports(scenes, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, scene in enumerate(scenes):
        Image.fromarray(scene).save(src / f"s{i}.png")
    out = tmp_path / "out"
    assert main(["segment", str(src), "-o", str(out), "--weights", str(DEMO_WEIGHTS), "--device", "cpu", "-q",
                 *EXPORTS]) == 0
    data = json.loads((out / "panoptic.json").read_text())
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert sum(s["isthing"] for line in lines for s in line["segments"]) > 0  # the demo model finds things
    for i, (ann, line) in enumerate(zip(data["annotations"], lines)):
        ids = _panoptic_ids(out / "panoptic" / ann["file_name"])
        _check_frame(ids, ann["segments_info"], out / "semantic", f"s{i}", line, out / "crops", scenes[i])
    code = main(["segment", str(src), "-o", str(out), "--weights", str(DEMO_WEIGHTS), "--save-semantic", "-q"])
    assert code == 1  # the semantic PNGs are refused like every other output


def test_video_exports(scenes, tmp_path):
    src = make_video(tmp_path / "drive.mp4", frames=3, size=(64, 128), fps=5, audio=None, images=scenes)
    out = tmp_path / "o"
    assert main(["segment", str(src), "-o", str(out), "--weights", str(DEMO_WEIGHTS), "--device", "cpu", "-q",
                 *EXPORTS]) == 0
    data = json.loads((out / "drive_panoptic.json").read_text())
    lines = [json.loads(x) for x in (out / "drive.jsonl").read_text().splitlines()]
    assert len(lines) == len(data["annotations"]) == 3
    with open_source(str(src)) as source:
        decoded = [frame.image for frame in source]  # the crops are of the decoded frames
    for ann, line, scene in zip(data["annotations"], lines, decoded):
        ids = _panoptic_ids(out / "drive_panoptic" / ann["file_name"])
        stem = f"drive_{line['frame']:06d}"
        _check_frame(ids, ann["segments_info"], out / "drive_semantic", stem, line, out / "drive_crops", scene)
