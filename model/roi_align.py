"""Multi-level RoIAlign as in mmdet v1's ``SingleRoIExtractor`` (finest scale 56, legacy "+1" RoIAlign).

- **Level of a RoI**: ``floor(log2(sqrt((x2 - x1 + 1) * (y2 - y1 + 1)) / 56 + 1e-6))`` clamped to the
  levels (0 = stride 4): sqrt-area < 112 px pools from P4, [112, 224) from P8, [224, 448) from P16, the rest
  from P32. A RoI whose level is undefined (a non-finite coordinate, or a box inverted by more than one
  pixel in one direction, which makes the area negative) gets an all-zero feature, as mmdet's extractor
  gives it (it fills no level for such a row).
- **RoIAlign**: mmdet v1's non-aligned kernel treats a box as covering pixels x1..x2, i.e. its RoI ends at
  ``(x2 + 1) * spatial_scale``; torchvision's ``roi_align(aligned=False)`` on the pixel-edge boxes
  ``(x1, y1, x2 + 1, y2 + 1)`` computes the same (to ~3e-6) with 2 x 2 samples per bin. One difference is
  kept: torchvision clamps a RoI narrower than one feature cell to one cell, mmdet clamps its size at 0.

Rows are never dropped or reordered: every RoI lands in exactly one bucket (a level or "no level"), and
the pooled rows are put back in RoI order with one gather, one code path for eager and ONNX. Each bucket
also gets one placeholder RoI (dropped after the gather), so that no bucket is ever empty: an exported graph
then has no zero-size tensor here, whatever the image (OpenVINO and TensorRT need that).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import roi_align

from model.boxes import pixel_edges

FINEST_SCALE = 56


def roi_levels(boxes: torch.Tensor, num_levels: int) -> torch.Tensor:
    """FPN level of each RoI (the rule in the module docstring).

    Args:
        boxes: (R, 4) float inclusive corners, input pixels.
        num_levels: number of pyramid levels, finest first.

    Returns:
        (R,) int64 in 0..num_levels; ``num_levels`` marks RoIs whose level is undefined.
    """
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    level = torch.floor(torch.log2(torch.sqrt(area) / FINEST_SCALE + 1e-6))
    defined = torch.isfinite(boxes).all(dim=1) & ~torch.isnan(level)
    level = torch.where(defined, level.clamp(min=0, max=num_levels - 1), torch.full_like(level, num_levels))
    return level.to(torch.int64)


class LevelRoIAlign(nn.Module):
    """Pool (S, S) features for RoIs from the FPN level :func:`roi_levels` picks (no parameters)."""

    def __init__(self, strides: dict[str, int], output_size: int, sampling_ratio: int = 2) -> None:
        """Args:
            strides: feature-map name -> stride in input pixels, finest first.
            output_size: S.
            sampling_ratio: samples per bin and direction (mmdet ``sample_num``).
        """
        super().__init__()
        self.strides = dict(strides)
        self.output_size = (output_size, output_size)
        self.sampling_ratio = sampling_ratio

    @property
    def featmap_names(self) -> list[str]:
        return list(self.strides)

    def forward(self, features: dict[str, torch.Tensor], boxes: list[torch.Tensor]) -> torch.Tensor:
        """Args:
            features: (B, C, H/s, W/s) maps keyed like ``strides``.
            boxes: per image (R_i, 4) float inclusive corners, input pixels.

        Returns:
            (sum R_i, C, S, S) pooled features (in the features' dtype; pooled in float32, as torchvision's
            autocast rule for ``roi_align`` does), row r for RoI r of the concatenated boxes.
        """
        first = features[self.featmap_names[0]]
        all_boxes = torch.cat(boxes)
        image = torch.cat([torch.zeros_like(b[:, :1]) + i for i, b in enumerate(boxes)])
        num_buckets = len(self.strides) + 1
        # one placeholder per bucket (image 0, a one-pixel box), rows R..R + num_buckets - 1
        levels = torch.cat([roi_levels(all_boxes, len(self.strides)), torch.arange(num_buckets, device=image.device)])
        placeholders = all_boxes.new_tensor([[0.0, 0.0, 0.0, 1.0, 1.0]]).expand(num_buckets, 5)
        rois = torch.cat([torch.cat([image, pixel_edges(all_boxes)], dim=1), placeholders])
        pooled, order = [], []
        for level, (name, stride) in enumerate(self.strides.items()):
            idx = torch.where(levels == level)[0]
            pooled.append(roi_align(features[name].float(), rois[idx].float(), self.output_size,
                                    spatial_scale=1.0 / stride, sampling_ratio=self.sampling_ratio,
                                    aligned=False).to(first.dtype))
            order.append(idx)
        none = torch.where(levels == len(self.strides))[0]
        pooled.append(first.new_zeros((none.shape[0], first.shape[1], *self.output_size)))
        order.append(none)
        # rows of undefined level were never pooled; the placeholders sort last and are cut off
        return torch.cat(pooled)[torch.argsort(torch.cat(order))[: all_boxes.shape[0]]]
