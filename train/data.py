"""Cityscapes data: find samples, build targets from ``gtFine`` labelIds/instanceIds, batch them.

Targets follow the official EfficientPS data (SPEC section 8):

- semantic: the class index (trainId) of every pixel, 255 for void; crowd regions keep their thing class;
- instances: one mask per instanceIds value >= 1000 of a thing class; crowd regions (thing pixels with an
  id < 1000) are not instances;
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
from train.transforms import Augment

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
HOW_TO_GET = ("Cityscapes is downloaded from https://www.cityscapes-dataset.com (leftImg8bit_trainvaltest.zip "
              "and gtFine_trainvaltest.zip, unpacked into one folder), or make a synthetic stand-in with "
              "'efficientps data synth'")


class DatasetError(ValueError):
    """The dataset folder is missing, incomplete or malformed; the message names the file."""


@dataclass(frozen=True)
class Sample:
    """One image and its ground truth files. ``name`` is the Cityscapes image id (``city_seq_frame``)."""

    name: str
    image: Path
    label_ids: Path
    instance_ids: Path


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
        gt = root / "gtFine" / split / image.parent.name
        sample = Sample(name, image, gt / f"{name}{LABEL_SUFFIX}", gt / f"{name}{INSTANCE_SUFFIX}")
        for path in (sample.label_ids, sample.instance_ids):
            if not path.is_file():
                raise DatasetError(f"{path}: missing ground truth for {image.name}. {HOW_TO_GET}")
        samples.append(sample)
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


def label_lut(classes: tuple[ClassSpec, ...]) -> np.ndarray:
    """labelId -> class index (trainId) lookup table; everything else is 255."""
    lut = np.full(256, VOID_ID, np.uint8)
    for c in classes:
        lut[c.label_id] = c.train_id
    return lut


def load_ground_truth(sample: Sample, classes: tuple[ClassSpec, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semantic map and instances of one sample.

    Returns:
        semantic (H, W) uint8 class indices with 255 = void; instance masks (N, H, W) bool; instance class
        indices (N,) int64.
    """
    label = read_id_image(sample.label_ids)
    inst = read_id_image(sample.instance_ids)
    if inst.shape != label.shape:
        raise DatasetError(f"{sample.instance_ids}: size {inst.shape[::-1]} differs from the labelIds' {label.shape[::-1]}")
    lut = label_lut(classes)
    semantic = lut[np.clip(label, 0, 255)]
    thing_ids = {c.train_id for c in classes if c.is_thing}
    ids = [int(i) for i in np.unique(inst) if i >= 1000 and int(lut[min(i // 1000, 255)]) in thing_ids]
    masks = np.stack([inst == i for i in ids]) if ids else np.zeros((0, *label.shape), bool)
    labels = np.array([lut[i // 1000] for i in ids], np.int64)
    return semantic, masks, labels


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


class CityscapesPanoptic(Dataset):
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
        semantic, masks, labels = load_ground_truth(sample, self.classes)
        if image.shape[:2] != semantic.shape:
            raise DatasetError(f"{sample.label_ids}: size {semantic.shape[::-1]} differs from the image's {image.shape[1::-1]}")
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
