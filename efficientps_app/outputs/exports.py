"""Exports for datasets and analysis: semantic PNGs (``--save-semantic``) and thing-instance crops
(``--save-crops``).

* Semantic: three PNGs per frame in the semantic folder, named after the frame (an image's relative path
  without suffix, or ``videostem_000123``): ``NAME_trainIds.png`` (8-bit, the network's class index, 255 =
  void), ``NAME_labelIds.png`` (8-bit, the dataset's label id, e.g. the Cityscapes labelId, 0 = void) and
  ``NAME_color.png`` (RGB, the class colours, black = void). The classes are the panoptic result's, so they
  agree with the overlay and the panoptic PNG (``--classes`` and the fusion's void apply).
* Crops: ``CLASS/NAME_ID.png`` in the crops folder, the source pixels inside each thing segment's box
  (``ID`` is the segment id of the frame, as in the JSON outputs).

Every file is written under a temporary name and renamed; a failed run removes what it wrote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from efficientps_app.outputs.files import write_image_atomic

if TYPE_CHECKING:
    from efficientps_app.inference.predictor import Prediction
    from model.classes import ClassSpec

SEMANTIC_KINDS = ("trainIds", "labelIds", "color")
VOID_TRAIN_ID, VOID_LABEL_ID = 255, 0


def semantic_paths(folder: Path, stem: str) -> list[Path]:
    """The semantic PNGs of the frame named ``stem`` (in :data:`SEMANTIC_KINDS` order)."""
    return [folder / f"{stem}_{kind}.png" for kind in SEMANTIC_KINDS]


def crop_path(folder: Path, class_name: str, stem: str, segment_id: int) -> Path:
    """Where the crop of segment ``segment_id`` of the frame named ``stem`` goes."""
    return folder / class_name / f"{stem}_{segment_id}.png"


def existing_crops(folder: Path, stem: str) -> list[Path]:
    """The crops of the frame named ``stem`` already in ``folder`` (any class)."""
    parent, name = Path(stem).parent, Path(stem).name
    pattern = re.compile(rf"{re.escape(name)}_\d+\.png")
    return [p for p in folder.glob(f"*/{parent}/{name}_*.png") if pattern.fullmatch(p.name)] if folder.is_dir() else []


def semantic_maps(prediction: Prediction, classes: tuple[ClassSpec, ...]) -> list[np.ndarray]:
    """The frame's semantic maps from its panoptic result: (H, W) uint8 train ids, (H, W) uint8 label ids and
    (H, W, 3) uint8 RGB colours, void where the panoptic result is void."""
    from model.outputs import segment_table

    result = prediction.result
    panoptic = result.panoptic.numpy()
    categories = [s.category_id for s in result.segments]
    train = segment_table(result, categories, fill=VOID_TRAIN_ID, dtype=np.uint8)[panoptic]
    label = segment_table(result, [classes[c].label_id for c in categories], fill=VOID_LABEL_ID, dtype=np.uint8)
    color = segment_table(result, [classes[c].color for c in categories], fill=(0, 0, 0), dtype=np.uint8)
    return [train, label[panoptic], color[panoptic]]


def _write_png_grey(path: Path, grey: np.ndarray) -> None:
    """An 8-bit single-channel PNG (what evaluation scripts read as ids), via a temporary file."""
    import cv2

    from efficientps_app.outputs.files import atomic_path

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), grey):
            raise OSError(f"{path}: could not write the image")


class FilesSink:
    """A sink that writes files into ``folder`` (one or more per frame) and removes them when the run fails."""

    needs_overlay = False

    def __init__(self, folder: Path) -> None:
        self.folder, self.written = folder, []

    def close(self, keep: bool, complete: bool) -> list[Path]:
        if not keep:
            for path in self.written:
                path.unlink(missing_ok=True)
            return []
        return [self.folder] if self.written else []


class SemanticSink(FilesSink):
    """Per-frame semantic PNGs: train ids, label ids and colours."""

    def __init__(self, folder: Path, classes: tuple[ClassSpec, ...]) -> None:
        super().__init__(folder)
        self.classes = classes

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None:
        from efficientps_app.outputs.sinks import frame_stem

        paths = semantic_paths(self.folder, frame_stem(prediction))
        train, label, color = semantic_maps(prediction, self.classes)
        _write_png_grey(paths[0], train)
        _write_png_grey(paths[1], label)
        write_image_atomic(paths[2], color)
        self.written += paths


class CropSink(FilesSink):
    """The source pixels of every thing instance, one PNG per instance in a folder per class."""

    def __init__(self, folder: Path, classes: tuple[ClassSpec, ...]) -> None:
        super().__init__(folder)
        self.classes = classes

    def write(self, prediction: Prediction, overlay: np.ndarray | None) -> None:
        from efficientps_app.outputs.sinks import frame_stem

        stem, image = frame_stem(prediction), prediction.frame.image
        for seg in prediction.result.segments:
            x, y, w, h = seg.bbox
            if not seg.is_thing or w <= 0 or h <= 0:
                continue
            path = crop_path(self.folder, self.classes[seg.category_id].name, stem, seg.id)
            write_image_atomic(path, np.ascontiguousarray(image[y : y + h, x : x + w]))
            self.written.append(path)
