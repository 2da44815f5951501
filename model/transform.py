"""The one inference transform, shared by the app's predictor, the export parity check and evaluation:

1. RGB uint8 images -> a float batch in [0, 1] (``to_batch``): to a tensor, resized to the inference size
   (bilinear, antialiased when shrinking), padded with the mean colour to a fixed-size model's input;
2. the raw outputs of that batch cut back to the image area (``crop``);
3. the fused result resized back to the source size (``restore``, nearest neighbour, areas recomputed).

Normalisation and the padding to a multiple of 32 stay inside the network (``EfficientPS.forward_raw``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from model.fusion import describe_segments
from model.outputs import PanopticResult, RawOutputs, select_segments


def inference_size(height: int, width: int, *, imgsz: int | None = None, scale: float | None = None,
                   preferred: tuple[int, int] | None = None, fixed: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (H, W) the network sees of a (height, width) image.

    Args:
        imgsz: the longer side in pixels, or
        scale: a factor of the source size, or else
        preferred: the (H, W) the model was made for (the image keeps its aspect and fits in it).
        fixed: a fixed-size model's input (H, W): the largest size with the image's aspect that fits; the
            rest of the input is padding. Overrides the others.
    """
    if fixed is not None:
        f = min(fixed[0] / height, fixed[1] / width)
        return min(max(round(height * f), 1), fixed[0]), min(max(round(width * f), 1), fixed[1])
    if imgsz is not None:
        f = imgsz / max(height, width)
    elif scale is not None:
        f = scale
    elif preferred is not None:
        f = min(preferred[0] / height, preferred[1] / width)
    else:
        return height, width
    return max(int(round(height * f)), 1), max(int(round(width * f)), 1)


@dataclass(frozen=True)
class InferenceTransform:
    """The geometry of one batch of same-size images.

    Attributes:
        source: (H, W) of the images, in pixels.
        size: (h, w) the network sees them at.
        canvas: (H', W') input of a fixed-size model (``size`` padded at the bottom right), or None.
        pixel_mean: RGB padding colour on a 0-255 scale (the model's mean: zero after normalisation).
    """

    source: tuple[int, int]
    size: tuple[int, int]
    canvas: tuple[int, int] | None = None
    pixel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def plan(cls, source: tuple[int, int], pixel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0), *,
             imgsz: int | None = None, scale: float | None = None, preferred: tuple[int, int] | None = None,
             fixed: tuple[int, int] | None = None) -> InferenceTransform:
        """The transform of (H, W) ``source`` images; the options are those of :func:`inference_size`."""
        size = inference_size(*source, imgsz=imgsz, scale=scale, preferred=preferred, fixed=fixed)
        return cls(tuple(source), size, fixed, tuple(pixel_mean))

    @property
    def padded(self) -> bool:
        return self.canvas is not None and self.canvas != self.size

    def to_batch(self, images: Sequence[np.ndarray], device: torch.device | str = "cpu") -> torch.Tensor:
        """(H, W, 3) uint8 RGB images of size ``source`` -> (B, 3, H', W') float in [0, 1] on ``device``."""
        batch = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float().div_(255)
        if self.size != self.source:
            batch = F.interpolate(batch, size=self.size, mode="bilinear", align_corners=False,
                                  antialias=self.size[0] < self.source[0]).clamp_(0, 1)
        if self.padded:
            mean = torch.tensor(self.pixel_mean, device=batch.device).view(1, 3, 1, 1) / 255
            canvas = mean.expand(batch.shape[0], 3, *self.canvas).clone()
            canvas[..., : self.size[0], : self.size[1]] = batch
            batch = canvas
        return batch

    def crop(self, raw: RawOutputs) -> RawOutputs:
        """Raw outputs of the batch cut back to the image area (boxes reaching into the padding are clipped
        when their masks are pasted)."""
        if not self.padded:
            return raw
        h, w = self.size
        keep = (raw.boxes[:, 0] < w) & (raw.boxes[:, 1] < h)
        return RawOutputs(raw.sem_logits[..., :h, :w], raw.boxes[keep], raw.scores[keep], raw.labels[keep],
                          raw.mask_logits[keep], raw.batch_index[keep])

    def restore(self, result: PanopticResult) -> PanopticResult:
        """A result fused at ``size``, at the source size."""
        return result if tuple(result.panoptic.shape) == self.source else resize_result(result, self.source)


def resize_result(result: PanopticResult, size: tuple[int, int]) -> PanopticResult:
    """Nearest-neighbour resize of a result to (H, W), with areas and boxes recomputed; segments that vanish
    are dropped and the rest renumbered 1..K' in their order."""
    pan = F.interpolate(result.panoptic[None, None].float(), size=size, mode="nearest-exact")[0, 0].int()
    sem = F.interpolate(result.semantic[None, None].float(), size=size, mode="nearest-exact")[0, 0].long()
    info = [(s.category_id, s.is_thing, s.score) for s in result.segments]
    resized = PanopticResult(pan, describe_segments(pan, info), sem)
    return select_segments(resized, [s.area > 0 for s in resized.segments])
