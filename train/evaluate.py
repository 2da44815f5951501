"""PQ/SQ/RQ and mIoU of a model on a dataset split, or of panoptic predictions already on disk."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from model.classes import ClassSpec
from model.efficientps import EfficientPS
from model.outputs import PanopticResult, results_to_cpu
from model.transform import InferenceTransform
from train.data import Sample, read_ground_truth, read_image
from train.errors import DatasetError
from train.panoptic_io import prediction_to_cityscapes, read_panoptic_png
from train.pq import PQAccumulator, count_pairs


def _results(acc: PQAccumulator, names: dict[int, str]) -> dict:
    return acc.results() | {"names": names}


def _segment_maps(gt_segments, pred_segments) -> tuple[dict, dict]:
    return ({s.id: (s.category_id, bool(s.iscrowd), s.area) for s in gt_segments},
            {s.id: s.category_id for s in pred_segments})


def evaluate_model(
    model: EfficientPS,
    samples: list[Sample],
    classes: tuple[ClassSpec, ...],
    device: torch.device,
    limit: int | None = None,
    progress: Callable[[], None] | None = None,
) -> dict:
    """Run ``model`` on each sample at full resolution and score it against the sample's ground truth with
    the COCO panoptic rules (categories: ``classes``, the dataset's, which the model must predict).

    Returns: cityscapesscripts-style results (``All``/``Things``/``Stuff``, ``per_class``) plus ``miou``
        and the category ``names``.
    """
    was_training = model.training
    model.eval()
    try:
        return evaluate_predictions(lambda image: _predict(model, image, device), samples, classes, limit, progress)
    finally:
        model.train(was_training)


@torch.inference_mode()
def _predict(model: EfficientPS, image: np.ndarray, device: torch.device) -> PanopticResult:
    """One image through the shared inference transform at its own size (what ``segment`` runs by default)."""
    transform = InferenceTransform.plan(image.shape[:2], model.cfg.pixel_mean)
    raw = transform.crop(model.forward_raw(transform.to_batch([image], device)))
    return results_to_cpu([transform.restore(model.fuse(raw, 0))])[0]


def evaluate_predictions(
    predict: Callable[[np.ndarray], PanopticResult],
    samples: list[Sample],
    classes: tuple[ClassSpec, ...],
    limit: int | None = None,
    progress: Callable[[], None] | None = None,
) -> dict:
    """Score ``predict`` ((H, W, 3) uint8 RGB -> PanopticResult at H x W: a model, a Predictor on any
    backend) on each sample against its ground truth. Returns what :func:`evaluate_model` returns."""
    acc = PQAccumulator({c.label_id: c.is_thing for c in classes})
    for sample in samples[:limit]:
        pred_ids, pred_segments = prediction_to_cityscapes(predict(read_image(sample.image)), classes)
        gt_ids, gt_segments = read_ground_truth(sample)
        gt_map, pred_map = _segment_maps(gt_segments, pred_segments)
        acc.add(gt_ids, gt_map, pred_ids, pred_map)
        if progress is not None:
            progress()
    return _results(acc, {c.label_id: c.name for c in classes})


def _read_panoptic_json(path: Path) -> tuple[dict, Path, list]:
    if not path.is_file():
        raise DatasetError(f"{path}: panoptic JSON not found")
    try:
        data = json.loads(path.read_text())
        annotations = {a["image_id"]: a for a in data["annotations"]}
    except (ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{path}: not a COCO panoptic JSON ({err})") from err
    folder = path.with_suffix("")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: the PNG folder next to {path.name} is missing")
    return annotations, folder, data.get("categories") or []


def _count_image(gt_path: Path, gt_keys: list[int], pred_path: Path, pred_keys: list[int]) -> np.ndarray:
    gt, pred = read_panoptic_png(gt_path), read_panoptic_png(pred_path)
    if gt.shape != pred.shape:
        raise DatasetError(f"{pred_path}: size {pred.shape[::-1]} differs from the ground truth's {gt.shape[::-1]}")
    try:
        return count_pairs(gt, gt_keys, pred, pred_keys)
    except (KeyError, ValueError) as err:
        raise DatasetError(f"{pred_path}: {err.args[0]}") from err


def evaluate_files(predictions: Path, ground_truth: Path, progress: Callable[[], None] | None = None) -> dict:
    """Score COCO-panoptic predictions (``NAME.json`` + ``NAME/*.png``) against ground truth in the same
    layout (a COCO panoptic dataset's, or what ``createPanopticImgs`` writes), over the ground truth's
    categories. Images are read and counted in a thread per CPU core; the statistics are summed in image
    order.

    Raises:
        DatasetError: a missing file, an image without a prediction, or inconsistent segments (named).
    """
    gt_anns, gt_folder, categories = _read_panoptic_json(ground_truth)
    if not categories:
        raise DatasetError(f"{ground_truth}: the ground truth lists no categories")
    pred_anns, pred_folder, _ = _read_panoptic_json(predictions)
    jobs = []
    for image_id, gt_ann in gt_anns.items():
        if image_id not in pred_anns:
            raise DatasetError(f"{predictions}: no prediction for image {image_id}")
        pred_ann = pred_anns[image_id]
        gt_map = {s["id"]: (s["category_id"], bool(s["iscrowd"]), s["area"]) for s in gt_ann["segments_info"]}
        pred_map = {s["id"]: s["category_id"] for s in pred_ann["segments_info"]}
        jobs.append((gt_folder / gt_ann["file_name"], gt_map, pred_folder / pred_ann["file_name"], pred_map))
    acc = PQAccumulator({int(c["id"]): bool(c["isthing"]) for c in categories})
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counted = pool.map(lambda job: _count_image(job[0], list(job[1]), job[2], list(job[3])), jobs)
        for (_, gt_map, pred_path, pred_map), counts in zip(jobs, counted):
            try:
                acc.add_counts(counts, gt_map, pred_map)
            except KeyError as err:
                raise DatasetError(f"{pred_path}: {err.args[0]}") from err
            if progress is not None:
                progress()
    return _results(acc, {int(c["id"]): str(c.get("name", c["id"])) for c in categories})
