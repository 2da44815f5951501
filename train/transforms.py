"""Training augmentation of the official recipe: random scale, random crop, horizontal flip.

Normalisation is not here: it happens inside the model (its constants are model buffers), and padding
to a multiple of 32 too. Crops never pad: an image smaller than the crop stays smaller (as in mmdet), and
the batch collate pads with void.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if len(masks) == 0:
        return np.zeros((0, h, w), bool)
    out = [cv2.resize(chunk.transpose(1, 2, 0).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
           for chunk in np.array_split(masks, max(1, -(-len(masks) // 256)))]
    return np.concatenate([o.reshape(h, w, -1).transpose(2, 0, 1) for o in out]).astype(bool)


@dataclass(frozen=True)
class Augment:
    """Random scale, crop and flip applied to an image and its labels alike.

    Attributes:
        base_size: (H, W) the image is fitted to at scale 1 (aspect ratio kept); (1024, 2048) officially.
        scale_range: uniform range of the scale factor; (0.5, 2.0) officially.
        crop: (H, W) random crop; (1024, 2048) officially. None: no crop.
        flip: probability of a horizontal flip.
    """

    base_size: tuple[int, int] = (1024, 2048)
    scale_range: tuple[float, float] = (0.5, 2.0)
    crop: tuple[int, int] | None = (1024, 2048)
    flip: float = 0.5

    def __call__(
        self, image: np.ndarray, semantic: np.ndarray, masks: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Args: image (H, W, 3) uint8, semantic (H, W) uint8, masks (N, H, W) bool. Returns the same, augmented."""
        rng = rng or np.random.default_rng()
        h, w = semantic.shape
        ratio = rng.uniform(*self.scale_range) * min(self.base_size[0] / h, self.base_size[1] / w)
        size = (max(1, round(h * ratio)), max(1, round(w * ratio)))
        if size != (h, w):
            image = cv2.resize(image, size[::-1], interpolation=cv2.INTER_LINEAR)
            semantic = cv2.resize(semantic, size[::-1], interpolation=cv2.INTER_NEAREST)
            masks = _resize_masks(masks, size)
        if self.crop is not None:
            ch, cw = min(self.crop[0], size[0]), min(self.crop[1], size[1])
            y = int(rng.integers(0, size[0] - ch + 1))
            x = int(rng.integers(0, size[1] - cw + 1))
            image, semantic, masks = image[y : y + ch, x : x + cw], semantic[y : y + ch, x : x + cw], masks[:, y : y + ch, x : x + cw]
        if rng.random() < self.flip:
            image, semantic, masks = image[:, ::-1], semantic[:, ::-1], masks[:, :, ::-1]
        return image, semantic, masks
