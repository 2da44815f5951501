"""Loss weighting: the model returns unweighted named losses; the training loop weights and sums them."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

LOSS_KEYS = ("loss_semantic", "loss_rpn_objectness", "loss_rpn_box", "loss_roi_cls", "loss_roi_box", "loss_mask")


@dataclass(frozen=True)
class LossWeights:
    """Weight of each loss term; all 1.0 in the official config (SPEC section 5.2)."""

    semantic: float = 1.0
    rpn_objectness: float = 1.0
    rpn_box: float = 1.0
    roi_cls: float = 1.0
    roi_box: float = 1.0
    mask: float = 1.0


def total_loss(losses: dict[str, torch.Tensor], weights: LossWeights = LossWeights()) -> torch.Tensor:
    """Weighted sum of the model's loss dict.

    Raises:
        KeyError: ``losses`` lacks a term or has one that no weight names.
    """
    names = {f"loss_{f.name}" for f in fields(weights)}
    if set(losses) != names:
        raise KeyError(f"loss terms {sorted(losses)} do not match the weights {sorted(names)}")
    return sum(getattr(weights, key.removeprefix("loss_")) * value for key, value in losses.items())
