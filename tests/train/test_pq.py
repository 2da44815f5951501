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
        ids, segments = gt_from_instance_ids(read_id_image(sample.panoptic))
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


def _hand_made_images() -> list[tuple[np.ndarray, list[dict], np.ndarray, list[dict]]]:
    """Three 10x10 images over a thing class A (id 1) and a stuff class B (id 2): (gt ids, gt segments,
    predicted ids, predicted segments). The comments give each segment's fate under the COCO rules."""
    def seg(i, cat, ids, crowd=0):
        return {"id": i, "category_id": cat, "area": int((ids == i).sum()), "iscrowd": crowd}

    # 1: void. GT: B left half, A the right half's top rows, void below it.
    gt1 = np.zeros((10, 10), np.int64)
    gt1[:, :5], gt1[:5, 5:] = 2, 1000
    p1 = np.zeros_like(gt1)
    p1[:, :5] = 1  # B: exact, IoU 1
    p1[:7, 5:] = 2  # A: 25 px on the GT + 10 on void, which leaves the union: IoU 25 / 25 = 1
    p1[7:, 5:] = 3  # A: all on void: ignored
    # 2: crowd. GT: B top half, an A instance bottom left, an A crowd region bottom right.
    gt2 = np.zeros((10, 10), np.int64)
    gt2[:5], gt2[5:, :4], gt2[5:, 4:] = 2, 1001, 1
    p2 = np.zeros_like(gt2)
    p2[:6] = 1  # B: 60 px over its 50: IoU 5/6
    p2[6:, :4] = 2  # A: 16 of the instance's 20 px: IoU 0.8
    p2[6:, 5:] = 3  # A on the A crowd: ignored
    p2[6:, 4] = 4  # B on the A crowd: a false positive (crowd only excuses its own category)
    # 3: IoU exactly 0.5 is no match. GT: B everywhere but two A instances.
    gt3 = np.full((10, 10), 2, np.int64)
    gt3[:2, :2], gt3[5:, 6:] = 1002, 1003
    p3 = np.zeros_like(gt3)
    p3[gt3 != 1003] = 1  # B: 80 px over its 76: IoU 0.95; instance 1002 is missed: a false negative
    p3[5:, 8:] = 2  # A: 10 of instance 1003's 20 px: IoU 0.5, so a false positive and a false negative
    return [
        (gt1, [seg(2, 2, gt1), seg(1000, 1, gt1)], p1, [seg(1, 2, p1), seg(2, 1, p1), seg(3, 1, p1)]),
        (gt2, [seg(2, 2, gt2), seg(1001, 1, gt2), seg(1, 1, gt2, crowd=1)], p2,
         [seg(1, 2, p2), seg(2, 1, p2), seg(3, 1, p2), seg(4, 2, p2)]),
        (gt3, [seg(2, 2, gt3), seg(1002, 1, gt3), seg(1003, 1, gt3)], p3, [seg(1, 2, p3), seg(2, 1, p3)]),
    ]


def _write_coco(folder: Path, name: str, images: list[tuple[np.ndarray, list[dict]]], categories: list[dict]) -> Path:
    (folder / name).mkdir(parents=True)
    annotations = []
    for k, (ids, segments) in enumerate(images):
        cv2.imwrite(str(folder / name / f"{k}.png"), id_to_rgb(ids)[..., ::-1])
        annotations.append({"image_id": k, "file_name": f"{k}.png", "segments_info": segments})
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"images": [{"id": k, "file_name": f"{k}.png"} for k in range(len(images))],
                                "annotations": annotations, "categories": categories}))
    return path


def test_pq_on_hand_made_cases_with_crowd_and_void(tmp_path: Path):
    """Hand-computed PQ of the cases above, and cityscapesscripts' port of panopticapi's pq_compute on them.

    A: TP IoU 1 (image 1) and 0.8 (image 2); FN instances 1002 and 1003; FP the IoU-0.5 prediction.
       PQ = 1.8 / (2 + 0.5 * 1 + 0.5 * 2) = 0.514286, SQ = 0.9, RQ = 2 / 3.5.
    B: TP IoU 1, 5/6 and 0.95; FP the prediction on A's crowd. PQ = (1 + 5/6 + 0.95) / 3.5, SQ = that / 3,
       RQ = 3 / 3.5.
    """
    from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import evaluatePanoptic

    categories = [{"id": 1, "name": "A", "isthing": 1}, {"id": 2, "name": "B", "isthing": 0}]
    cases = _hand_made_images()
    gt = _write_coco(tmp_path, "gt", [(g, gs) for g, gs, _, _ in cases], categories)
    pred = _write_coco(tmp_path, "pred", [(p, ps) for _, _, p, ps in cases], categories)
    iou_b = 1 + 5 / 6 + 0.95
    expected = {1: (1.8 / 3.5, 0.9, 2 / 3.5), 2: (iou_b / 3.5, iou_b / 3, 3 / 3.5)}
    with contextlib.redirect_stdout(io.StringIO()):
        ref = evaluatePanoptic(str(gt), str(tmp_path / "gt"), str(pred), str(tmp_path / "pred"),
                               str(tmp_path / "r.json"))
    ours = evaluate_files(pred, gt)
    for cat, values in expected.items():
        for key, value in zip(("pq", "sq", "rq"), values):
            assert ours["per_class"][cat][key] == pytest.approx(value, abs=1e-6), (cat, key)
            assert ref["per_class"][cat][key] == pytest.approx(value, abs=1e-6), (cat, key)
    for group, cats in (("All", (1, 2)), ("Things", (1,)), ("Stuff", (2,))):
        for i, key in enumerate(("pq", "sq", "rq")):
            assert ours[group][key] == pytest.approx(np.mean([expected[c][i] for c in cats]), abs=1e-6)
            assert ours[group][key] == pytest.approx(ref[group][key], abs=1e-6)
    assert ours["names"] == {1: "A", 2: "B"}


def test_segment_slots_are_the_same_for_small_and_24_bit_ids():
    from train.pq import segment_slots

    small = np.array([[0, 5, 7], [9, 5, 3]])
    assert segment_slots(small, [5, 9, 3]).tolist() == [[0, 1, 4], [2, 1, 3]]  # 7 is unlisted: slot K + 1
    big = np.where(small > 0, small * 1_000_003, 0)  # above the lookup table's range
    assert segment_slots(big, [5_000_015, 9_000_027, 3_000_009], scale=10).tolist() == [[0, 10, 40], [20, 10, 30]]
    with pytest.raises(ValueError, match="24 bits"):
        segment_slots(small, [1 << 24])
