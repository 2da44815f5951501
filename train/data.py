"""Panoptic data: samples and their ground truth, targets in the model's training format, batching.

A sample's ground truth is a panoptic segment-id map and its segments (COCO panoptic's ``segments_info``),
read from a COCO panoptic PNG and JSON (:mod:`train.coco_panoptic`) or made from a Cityscapes
``*_gtFine_instanceIds.png`` exactly as cityscapesscripts' ``createPanopticImgs`` makes it (category id =
labelId). Targets follow from it by one rule for every dataset, that of the official EfficientPS data
(SPEC section 8):

- semantic: the class index (train id) of every pixel of a listed segment; 255 (void) for segment id 0, for
  ids the segments do not list and for categories outside the class list; crowd regions keep their class;
- instances: one mask per non-crowd segment of a thing class; crowd regions are never instances;
- images without instances still train the semantic head (the official code skipped them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from model.classes import VOID_ID, ClassSpec
from train.errors import DatasetError
from train.panoptic_io import PanopticSegment, gt_from_instance_ids, read_panoptic_png
from train.pq import segment_slots
from train.transforms import Augment

# DatasetError is re-exported: the CLI's error funnel looks for it here
__all__ = ["DatasetError", "PanopticDataset", "Sample", "collate", "find_samples", "masks_to_boxes",
           "read_ground_truth", "read_image", "targets_from_panoptic"]

IMAGE_SUFFIX = "_leftImg8bit.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
HOW_TO_GET = ("Cityscapes is downloaded from https://www.cityscapes-dataset.com (leftImg8bit_trainvaltest.zip "
              "and gtFine_trainvaltest.zip, unpacked into one folder), or make a synthetic stand-in with "
              "'efficientps data synth'")


@dataclass(frozen=True)
class Sample:
    """One image and its panoptic ground truth.

    Attributes:
        name: the image id (Cityscapes: ``city_seq_frame``; COCO panoptic: the JSON's ``image_id``).
        image: the image file.
        panoptic: a COCO panoptic PNG described by ``segments``, or (``segments`` None) a Cityscapes
            ``*_gtFine_instanceIds.png`` the segments are derived from.
        segments: the annotation's ``segments_info``.
    """

    name: str
    image: Path
    panoptic: Path
    segments: tuple[PanopticSegment, ...] | None = None


def find_samples(root: str | Path, split: str) -> list[Sample]:
    """All samples of ``split`` under a Cityscapes root, sorted by name.

    Raises:
        DatasetError: the split has no images, or an image has no ground truth.
    """
    root = Path(root)
    img_dir = root / "leftImg8bit" / split
    images = sorted(img_dir.glob(f"*/*{IMAGE_SUFFIX}"))
    if not images:
        raise DatasetError(f"{img_dir}: no '*{IMAGE_SUFFIX}' images found. {HOW_TO_GET}")
    samples = []
    for image in images:
        name = image.name[: -len(IMAGE_SUFFIX)]
        instance_ids = root / "gtFine" / split / image.parent.name / f"{name}{INSTANCE_SUFFIX}"
        if not instance_ids.is_file():
            raise DatasetError(f"{instance_ids}: missing ground truth for {image.name}. {HOW_TO_GET}")
        samples.append(Sample(name, image, instance_ids))
    return samples


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise DatasetError(f"{path}: not a readable image")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def read_id_image(path: Path) -> np.ndarray:
    """A single-channel id PNG (``*_labelIds.png``, ``*_instanceIds.png``) as (H, W) int64."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None or data.ndim != 2:
        raise DatasetError(f"{path}: not a readable single-channel id image")
    return data.astype(np.int64)


def read_ground_truth(sample: Sample) -> tuple[np.ndarray, list[PanopticSegment]]:
    """(H, W) int64 segment ids (0 = void) and their segments."""
    if sample.segments is None:
        return gt_from_instance_ids(read_id_image(sample.panoptic))
    return read_panoptic_png(sample.panoptic).astype(np.int64), list(sample.segments)


def targets_from_panoptic(
    ids: np.ndarray, segments: list[PanopticSegment], classes: tuple[ClassSpec, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semantic map and instances of a panoptic ground truth (the rules in the module docstring).

    Returns:
        semantic (H, W) uint8 class indices with 255 = void; instance masks (N, H, W) bool; instance class
        indices (N,) int64.
    """
    by_category = {c.label_id: c for c in classes}
    listed = [s for s in segments if s.category_id in by_category]
    slots = segment_slots(ids, [s.id for s in listed])  # 0 void, 1..K the listed segments, K + 1 unlisted ids
    train_ids = np.array([VOID_ID] + [by_category[s.category_id].train_id for s in listed] + [VOID_ID], np.uint8)
    things = [k + 1 for k, s in enumerate(listed) if by_category[s.category_id].is_thing and not s.iscrowd]
    masks = np.stack([slots == k for k in things]) if things else np.zeros((0, *ids.shape), bool)
    return train_ids[slots], masks, train_ids[things].astype(np.int64)


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) float xyxy in pixel-edge coordinates: a mask covering columns 3..5 spans
    x 3.0 to 6.0 (torchvision's convention; a one-pixel object has width 1, never 0)."""
    if masks.shape[0] == 0:
        return torch.zeros((0, 4))
    rows, cols = masks.any(2), masks.any(1)
    y0 = rows.float().argmax(1)
    x0 = cols.float().argmax(1)
    y1 = masks.shape[1] - rows.flip(1).float().argmax(1)
    x1 = masks.shape[2] - cols.flip(1).float().argmax(1)
    return torch.stack([x0, y0, x1, y1], 1).float()


class PanopticDataset(Dataset):
    """Images as (3, H, W) float RGB in [0, 1] and targets in the model's training format.

    Augmentation draws from a generator seeded by (seed, epoch, index): the same sample of the same epoch
    is augmented the same way in any worker, which makes resumed training exact. Set ``epoch`` before
    each epoch.
    """

    def __init__(
        self, samples: list[Sample], classes: tuple[ClassSpec, ...], augment: Augment | None = None, seed: int = 0
    ) -> None:
        self.samples, self.classes, self.augment, self.seed = samples, classes, augment, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sample = self.samples[index]
        image = read_image(sample.image)
        ids, segments = read_ground_truth(sample)
        if image.shape[:2] != ids.shape:
            raise DatasetError(f"{sample.panoptic}: size {ids.shape[::-1]} differs from the image's "
                               f"{image.shape[1::-1]}")
        semantic, masks, labels = targets_from_panoptic(ids, segments, self.classes)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image, semantic, masks = self.augment(image, semantic, masks, rng)
        keep = masks.reshape(len(masks), -1).any(1) if len(masks) else np.zeros(0, bool)
        masks_t = torch.from_numpy(np.ascontiguousarray(masks[keep]))
        target = {
            "boxes": masks_to_boxes(masks_t),
            "labels": torch.from_numpy(labels[keep]),
            "masks": masks_t,
            "semantic": torch.from_numpy(np.ascontiguousarray(semantic)).long(),
        }
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255, target


def collate(batch: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> tuple[torch.Tensor, list[dict]]:
    """Pad images (0), semantic maps (255) and masks (False) to the largest size in the batch."""
    h = max(img.shape[1] for img, _ in batch)
    w = max(img.shape[2] for img, _ in batch)
    images = torch.zeros((len(batch), 3, h, w))
    targets = []
    for i, (img, tgt) in enumerate(batch):
        ih, iw = img.shape[1:]
        images[i, :, :ih, :iw] = img
        semantic = torch.full((h, w), VOID_ID, dtype=torch.long)
        semantic[:ih, :iw] = tgt["semantic"]
        masks = torch.zeros((len(tgt["masks"]), h, w), dtype=torch.bool)
        masks[:, :ih, :iw] = tgt["masks"]
        targets.append({**tgt, "semantic": semantic, "masks": masks})
    return images, targets
