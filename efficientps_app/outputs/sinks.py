"""Outputs of ``segment``: overlay images, overlay video, COCO-panoptic PNG + JSON, and JSONL.

Every file is written under a temporary name and renamed when complete; a failed run removes what it
started. Formats:

* COCO panoptic (``NAME.json`` + ``NAME/``), laid out as cityscapesscripts' ``createPanopticImgs`` lays out
  the ground truth: PNG id = R + 256 G + 256^2 B, stuff id = labelId, thing id = labelId * 1000 + k,
  ``category_id`` = labelId, ``image_id`` = the file stem without ``_leftImg8bit`` (video: stem_frame, and
  each image also has ``frame_index`` and ``time_s``; things have their ``track_id``).
* JSONL: one line per frame with the frame index, source, time and segments (train-id categories, names,
  scores, areas, boxes and track ids; with ``rle``, each segment's pixels as COCO compressed RLE in
  ``segmentation``: :mod:`efficientps_app.outputs.rle`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from efficientps_app.inference.predictor import Prediction
from efficientps_app.outputs.exports import FilesSink
from efficientps_app.outputs.files import finish, temp_path, write_image_atomic, write_text_atomic
from efficientps_app.outputs.video_writer import VideoWriter
from model.classes import ClassSpec


class Sink(Protocol):
    """An output: gets every prediction (and the rendered overlay when it asks for one)."""

    needs_overlay: bool

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None: ...

    def close(self, keep: bool, complete: bool) -> list[Path]:
        """Finalise (``keep``) or discard the output; ``complete``: the whole source was read."""
        ...


def frame_stem(pred: Prediction) -> str:
    """A name for the frame: the image's relative path without suffix, or ``videostem_000123``."""
    meta = pred.frame.meta
    if meta.relative_path is not None:
        return str(Path(meta.relative_path).with_suffix(""))
    return f"{Path(meta.source_name).stem or 'stream'}_{meta.index:06d}"


class ImageSink(FilesSink):
    """Overlay images under ``folder``, with the source images' relative names."""

    needs_overlay = True

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None:
        rel = prediction.frame.meta.relative_path or f"{frame_stem(prediction)}.png"
        path = self.folder / rel
        write_image_atomic(path, overlay)
        self.written.append(path)


class VideoSink:
    """The overlay video (H.264) with the source's timing and, when it has one, its audio."""

    needs_overlay = True

    def __init__(self, path: Path, fps: float | None, audio_from: Path | None, crf: int) -> None:
        self.writer = VideoWriter(path, fps, audio_from=audio_from, crf=crf)

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None:
        self.writer.write(overlay, prediction.frame.meta)

    def close(self, keep: bool, complete: bool) -> list[Path]:
        written = self.writer.close(keep=keep, whole_audio=complete)
        return [written] if written else []


class PanopticSink:
    """COCO panoptic PNGs in ``NAME/`` and their annotations in ``NAME.json``."""

    needs_overlay = False

    def __init__(self, json_path: Path, classes: tuple[ClassSpec, ...]) -> None:
        self.json_path, self.classes = json_path, classes
        self.folder = json_path.with_suffix("")
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self.written: list[Path] = []
        self._ids: set[str] = set()

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None:
        from train.panoptic_io import id_to_rgb, prediction_to_cityscapes

        image_id = Path(frame_stem(prediction)).name.removesuffix("_leftImg8bit")
        base, n = image_id, 1
        while image_id in self._ids:
            n += 1
            image_id = f"{base}_{n}"
        self._ids.add(image_id)
        ids, segments = prediction_to_cityscapes(prediction.result, self.classes)
        path = self.folder / f"{image_id}.png"
        write_image_atomic(path, id_to_rgb(ids))
        self.written.append(path)
        tracks = prediction.track_ids or {}
        infos = []
        for seg, out in zip(prediction.result.segments, segments):
            info = out.as_json()
            if seg.score is not None:
                info["score"] = round(float(seg.score), 5)
            if seg.id in tracks:
                info["track_id"] = tracks[seg.id]
            infos.append(info)
        h, w = ids.shape
        image = {"id": image_id, "file_name": f"{image_id}.png", "height": h, "width": w}
        meta = prediction.frame.meta
        if meta.relative_path is None:  # a video or live frame: where it is in the source
            image["frame_index"] = meta.index
            if meta.timestamp_s is not None:
                image["time_s"] = round(meta.timestamp_s, 6)
        self.images.append(image)
        self.annotations.append({"image_id": image_id, "file_name": f"{image_id}.png", "segments_info": infos})

    def close(self, keep: bool, complete: bool) -> list[Path]:
        if not keep or not self.images:
            for path in self.written:
                path.unlink(missing_ok=True)
            return []
        categories = [{"id": c.label_id, "name": c.name, "color": list(c.color), "supercategory": "",
                       "isthing": int(c.is_thing)} for c in self.classes]
        data = {"images": self.images, "annotations": self.annotations, "categories": categories}
        write_text_atomic(self.json_path, json.dumps(data))
        return [self.json_path, self.folder]


def segment_records(prediction: Prediction, classes: tuple[ClassSpec, ...]) -> list[dict]:
    """The segments of a prediction as plain dicts (what JSONL lines and the viewer show)."""
    tracks = prediction.track_ids or {}
    return [
        {"id": s.id, "category_id": s.category_id, "category": classes[s.category_id].name,
         "label_id": classes[s.category_id].label_id, "isthing": s.is_thing,
         "score": None if s.score is None else round(float(s.score), 5), "area": s.area, "bbox": list(s.bbox),
         "track_id": tracks.get(s.id)}
        for s in prediction.result.segments
    ]


class JsonlSink:
    """One JSON line per frame (``rle``: with each segment's mask)."""

    needs_overlay = False

    def __init__(self, path: Path, classes: tuple[ClassSpec, ...], rle: bool = False) -> None:
        self.path, self.classes, self.rle = path, classes, rle
        self._tmp = temp_path(path)
        self._file = None

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._tmp.open("w")
        meta = prediction.frame.meta
        h, w = prediction.frame.image.shape[:2]
        line = {"frame": meta.index, "source": meta.source_name,
                "pts": None if meta.timestamp_s is None else round(meta.timestamp_s, 6),
                "width": w, "height": h, "segments": segment_records(prediction, self.classes)}
        if self.rle:
            from efficientps_app.outputs.rle import empty_mask, encode_masks

            masks = encode_masks(prediction.result.panoptic.numpy())
            for record in line["segments"]:
                record["segmentation"] = masks.get(record["id"]) or empty_mask(h, w)
        self._file.write(json.dumps(line) + "\n")

    def close(self, keep: bool, complete: bool) -> list[Path]:
        if self._file is None:
            return []
        self._file.close()
        return [self.path] if finish(self._tmp, self.path, keep) else []


def export_frame(folder: Path, prediction: Prediction, view: np.ndarray, classes: tuple[ClassSpec, ...]) -> list[Path]:
    """One frame for a bug report or a figure: ``STEM_view.png`` (what is shown), ``STEM_panoptic.png``
    (COCO panoptic ids, Cityscapes convention) and ``STEM_panoptic.json`` (its segments)."""
    from train.panoptic_io import id_to_rgb, prediction_to_cityscapes

    stem = Path(frame_stem(prediction)).name
    ids, segments = prediction_to_cityscapes(prediction.result, classes)
    paths = [folder / f"{stem}_view.png", folder / f"{stem}_panoptic.png", folder / f"{stem}_panoptic.json"]
    write_image_atomic(paths[0], view)
    write_image_atomic(paths[1], id_to_rgb(ids))
    records = segment_records(prediction, classes)
    for record, seg in zip(records, segments):
        record["panoptic_id"] = seg.id
    write_text_atomic(paths[2], json.dumps({"file_name": paths[1].name, "source": prediction.frame.meta.source_name,
                                            "frame": prediction.frame.meta.index, "segments": records}, indent=1))
    return paths
