"""The video panoptic format (Cityscapes-VPS style): ground truth of every frame of a video, and
predictions of ``segment --save-panoptic`` on a video, read side by side for the video metrics.

Ground truth of ``drive.mp4`` is ``drive_gt.json`` plus one panoptic PNG per frame in ``drive_gt/``::

    drive_gt/drive_000000.png      id = R + 256 G + 256^2 B: stuff id = labelId, thing id = labelId * 1000 + k
    drive_gt.json                  COCO panoptic, plus "videos" and, per image, "frame_index" and "time_s"

An object keeps its id ``labelId * 1000 + k`` in every frame it is visible in (that is what makes it
video ground truth); void pixels are 0. ``images[i]`` = frame ``frame_index`` of the video (0-based, in
presentation order; ``time_s`` = frame_index / fps). Predictions written by ``segment --save-panoptic``
have the same layout without ``videos``; their thing ids are per frame, and a thing's identity over the
video is its ``track_id`` in ``segments_info``. Prediction frames are matched to ground-truth frames by
``time_s`` (then ``frame_index``, then ``image_id``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.data import DatasetError
from train.panoptic_io import eval_categories, gt_from_instance_ids, id_to_rgb, read_panoptic_png
from train.video_metrics import GtSegment, PredSegment, TubeIds, VideoPanopticEvaluator

FORMAT = "efficientps video panoptic 1"


def ground_truth_paths(video: Path) -> tuple[Path, Path]:
    """``(drive_gt.json, drive_gt/)`` next to ``drive.mp4``."""
    return video.with_name(f"{video.stem}_gt.json"), video.with_name(f"{video.stem}_gt")


class GroundTruthWriter:
    """Writes the ground truth of a video frame by frame into temporary names; ``commit`` renames them."""

    def __init__(self, video: Path, fps: float, size: tuple[int, int]) -> None:
        self.video, self.fps, self.size = video, fps, size
        self.json_path, self.folder = ground_truth_paths(video)
        self._tmp_folder = self.folder.with_name(f".{self.folder.name}.partial")
        shutil.rmtree(self._tmp_folder, ignore_errors=True)
        self._tmp_folder.mkdir(parents=True)
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, inst: np.ndarray) -> None:
        """The next frame, from its (H, W) Cityscapes instanceIds."""
        import cv2

        index = len(self.images)
        image_id = f"{self.video.stem}_{index:06d}"
        ids, segments = gt_from_instance_ids(inst)
        if not cv2.imwrite(str(self._tmp_folder / f"{image_id}.png"), cv2.cvtColor(id_to_rgb(ids), cv2.COLOR_RGB2BGR)):
            raise OSError(f"{self._tmp_folder}: could not write {image_id}.png")
        h, w = ids.shape
        self.images.append({"id": image_id, "file_name": f"{image_id}.png", "video_id": self.video.stem,
                            "frame_index": index, "time_s": round(index / self.fps, 6), "height": h, "width": w})
        self.annotations.append({"image_id": image_id, "file_name": f"{image_id}.png",
                                 "segments_info": [s.as_json() for s in segments]})

    def commit(self) -> tuple[Path, Path]:
        """Rename the finished files into place; returns (JSON, folder)."""
        h, w = self.size
        data = {"info": {"format": FORMAT, "description": f"video panoptic ground truth of {self.video.name}"},
                "videos": [{"id": self.video.stem, "file_name": self.video.name, "fps": self.fps,
                            "num_frames": len(self.images), "height": h, "width": w}],
                "images": self.images, "annotations": self.annotations, "categories": eval_categories()}
        tmp_json = self.json_path.with_name(f".{self.json_path.name}.partial")
        tmp_json.write_text(json.dumps(data))
        shutil.rmtree(self.folder, ignore_errors=True)
        os.replace(self._tmp_folder, self.folder)
        os.replace(tmp_json, self.json_path)
        return self.json_path, self.folder

    def abort(self) -> None:
        shutil.rmtree(self._tmp_folder, ignore_errors=True)


@dataclass(frozen=True)
class FrameFile:
    """One frame of a panoptic JSON: its PNG, segments and place in the video."""

    image_id: str
    png: Path
    segments: tuple[dict, ...]
    frame_index: int | None
    time_s: float | None


def read_frames(json_path: Path) -> tuple[dict, list[FrameFile]]:
    """The JSON's content and its frames, in the JSON's order.

    Raises:
        DatasetError: the file is missing, is not panoptic JSON, or lists an image without annotation.
    """
    try:
        data = json.loads(Path(json_path).read_text())
        images = {im["id"]: im for im in data["images"]}
        annotations = data["annotations"]
    except FileNotFoundError:
        raise DatasetError(f"{json_path}: no such file") from None
    except (ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{json_path}: not a COCO panoptic JSON ({type(err).__name__}: {err})") from None
    folder = Path(json_path).with_suffix("")
    frames = []
    for ann in annotations:
        image = images.get(ann.get("image_id"))
        if image is None:
            raise DatasetError(f"{json_path}: annotation of unknown image {ann.get('image_id')!r}")
        frames.append(FrameFile(image["id"], folder / ann["file_name"], tuple(ann["segments_info"]),
                                image.get("frame_index"), image.get("time_s")))
    return data, frames


def pair_frames(gt_json: Path, pred_json: Path) -> tuple[dict, list[tuple[int, FrameFile, FrameFile]]]:
    """Ground-truth and predicted frames side by side: ``(gt data, [(frame index, gt, pred)])`` by time.

    Raises:
        DatasetError: a predicted frame has no ground truth, or no frame is shared.
    """
    gt_data, gt_frames = read_frames(gt_json)
    _, pred_frames = read_frames(pred_json)
    fps = float(gt_data.get("videos", [{}])[0].get("fps") or 0)
    by_index = {f.frame_index: f for f in gt_frames if f.frame_index is not None}
    by_id = {f.image_id: f for f in gt_frames}
    pairs = []
    for pred in pred_frames:
        if pred.time_s is not None and fps:
            gt = by_index.get(int(round(pred.time_s * fps)))
        elif pred.frame_index is not None:
            gt = by_index.get(pred.frame_index)
        else:
            gt = by_id.get(pred.image_id)
        if gt is None:
            raise DatasetError(f"{pred_json}: frame {pred.image_id} has no ground truth in {gt_json}")
        pairs.append((gt.frame_index if gt.frame_index is not None else len(pairs), gt, pred))
    if not pairs:
        raise DatasetError(f"{pred_json}: no predicted frames")
    pairs.sort(key=lambda t: t[0])
    return gt_data, pairs


def _things(categories: list[dict]) -> dict[int, bool]:
    return {int(c["id"]): bool(c["isthing"]) for c in categories}


def evaluate_video_files(gt_json: Path, pred_json: Path, progress: Callable[[], None] | None = None) -> dict:
    """STQ, VPQ and id switches of ``segment --save-panoptic`` output against video ground truth.

    Returns the dict of :meth:`VideoPanopticEvaluator.results` plus ``"gt_frames"``.
    """
    gt_data, pairs = pair_frames(gt_json, pred_json)
    categories = _things(gt_data["categories"])
    evaluator = VideoPanopticEvaluator(categories)
    tubes = TubeIds()
    for index, gt, pred in pairs:
        gt_ids = read_panoptic_png(gt.png).astype(np.int64)
        pred_ids = read_panoptic_png(pred.png).astype(np.int64)
        gt_segments = {int(s["id"]): GtSegment(int(s["category_id"]), categories.get(int(s["category_id"]), False),
                                               bool(s.get("iscrowd", 0))) for s in gt.segments}
        pred_segments = {int(s["id"]): PredSegment(int(s["category_id"]), categories.get(int(s["category_id"]), False),
                                                   s.get("track_id")) for s in pred.segments}
        try:
            tube_ids, tube_segments = tubes.frame(pred_ids, pred_segments)
            evaluator.add(index, gt_ids, gt_segments, tube_ids, tube_segments)
        except (KeyError, ValueError) as err:
            raise DatasetError(f"{pred.png.name} vs {gt.png.name}: {err.args[0]}") from None
        if progress is not None:
            progress()
    return evaluator.results() | {"gt_frames": len(gt_data["images"])}

