"""Our PQ equals cityscapesscripts' evalPanopticSemanticLabeling on predictions that differ in many ways."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.data import find_samples, read_id_image
from train.evaluate import evaluate_files
from train.panoptic_io import eval_categories, gt_from_instance_ids, id_to_rgb, read_panoptic_png
from train.prepare import panoptic_gt_json

THING_CATS = [c["id"] for c in eval_categories() if c["isthing"]]
STUFF_CATS = [c["id"] for c in eval_categories() if not c["isthing"]]


def _perturb(gt: np.ndarray, segments: list[dict], rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """A prediction derived from the ground truth with drops, erosions, splits, relabels and spurious segments."""
    pred = np.zeros_like(gt)
    out: list[dict] = []
    next_id = 1

    def add(mask: np.ndarray, category: int) -> None:
        nonlocal next_id
        mask = mask & (pred == 0)
        if mask.any():
            pred[mask] = next_id
            out.append({"id": next_id, "category_id": category, "iscrowd": 0})
            next_id += 1

    for seg in segments:
        mask = gt == seg["id"]
        cat = seg["category_id"]
        action = rng.choice(["keep", "erode", "cut", "drop", "relabel", "split", "crowdhit"])
        if action == "keep":
            add(mask, cat)
        elif action == "erode":
            add(cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 4))) > 0, cat)
        elif action == "cut":  # keep a random fraction of the rows: IoU anywhere in (0, 1)
            rows = np.nonzero(mask.any(1))[0]
            cut = rows[0] + int(len(rows) * rng.uniform(0.2, 0.9))
            keep = mask.copy()
            keep[cut:] = False
            add(keep, cat)
        elif action == "relabel":
            add(mask, int(rng.choice(THING_CATS if cat in THING_CATS else STUFF_CATS)))
        elif action == "split":
            cols = np.nonzero(mask.any(0))[0]
            mid = (cols[0] + cols[-1]) // 2
            left = mask.copy()
            left[:, mid:] = False
            add(left, cat)
            add(mask & ~left, cat)
        elif action == "crowdhit" and seg["iscrowd"]:
            add(mask, cat)  # a thing prediction on a crowd region: ignored, not a false positive
    h, w = gt.shape
    for _ in range(3):  # spurious rectangles, some on void, some over other segments
        y, x = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
        rect = np.zeros_like(gt, bool)
        rect[y : y + int(rng.integers(4, 30)), x : x + int(rng.integers(4, 40))] = True
        add(rect, int(rng.choice(THING_CATS + STUFF_CATS)))
    add((gt == 0) & (rng.random(gt.shape) < 0.5), int(rng.choice(STUFF_CATS)))  # mostly on void: ignored
    return pred, out


def _write_predictions(root: Path, out: Path, seed: int) -> Path:
    gt_json = panoptic_gt_json(root, "val")
    gt = json.loads(gt_json.read_text())
    rng = np.random.default_rng(seed)
    folder = out / "pred"
    folder.mkdir(parents=True)
    annotations = []
    for ann in gt["annotations"]:
        ids = read_panoptic_png(gt_json.with_suffix("") / ann["file_name"])
        pred, segments = _perturb(ids, ann["segments_info"], rng)
        name = ann["file_name"].replace("gtFine", "pred")
        cv2.imwrite(str(folder / name), id_to_rgb(pred)[..., ::-1])
        annotations.append({"image_id": ann["image_id"], "file_name": name, "segments_info": segments})
    path = out / "pred.json"
    path.write_text(json.dumps({"annotations": annotations, "categories": gt["categories"], "images": gt["images"]}))
    return path


def test_ground_truth_equals_create_panoptic_imgs(synth_root: Path):
    gt_json = panoptic_gt_json(synth_root, "val")
    anns = {a["image_id"]: a for a in json.loads(gt_json.read_text())["annotations"]}
    for sample in find_samples(synth_root, "val"):
        ids, segments = gt_from_instance_ids(read_id_image(sample.instance_ids))
        ann = anns[sample.name]
        reference = read_panoptic_png(gt_json.with_suffix("") / ann["file_name"])
        assert np.array_equal(ids, reference)
        assert [s.as_json() for s in segments] == ann["segments_info"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pq_equals_cityscapesscripts(synth_root: Path, tmp_path: Path, seed: int):
    from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import evaluatePanoptic

    pred_json = _write_predictions(synth_root, tmp_path, seed)
    gt_json = panoptic_gt_json(synth_root, "val")
    with contextlib.redirect_stdout(io.StringIO()):
        ref = evaluatePanoptic(str(gt_json), str(gt_json.with_suffix("")), str(pred_json), str(tmp_path / "pred"),
                               str(tmp_path / "ref.json"))
    ours = evaluate_files(pred_json, gt_json)
    assert 0.05 < ref["All"]["pq"] < 0.95  # the predictions really differ from the ground truth
    for group in ("All", "Things", "Stuff"):
        assert ours[group]["n"] == ref[group]["n"]
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(ref[group][key], abs=1e-6), (group, key)
    assert set(ours["per_class"]) == set(ref["per_class"])
    for cat, values in ref["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert ours["per_class"][cat][key] == pytest.approx(values[key], abs=1e-6), (cat, key)


def test_perfect_prediction_scores_one(synth_root: Path):
    gt_json = panoptic_gt_json(synth_root, "val")
    results = evaluate_files(gt_json, gt_json)
    assert results["All"]["pq"] == pytest.approx(1.0) and results["miou"] == pytest.approx(1.0)
