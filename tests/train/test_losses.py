"""Loss weighting in train/losses.py."""

from __future__ import annotations

import pytest
import torch

from train.losses import LOSS_KEYS, LossWeights, total_loss


def test_weighted_sum():
    losses = {k: torch.tensor(float(i + 1)) for i, k in enumerate(LOSS_KEYS)}
    assert float(total_loss(losses)) == 21.0
    assert float(total_loss(losses, LossWeights(semantic=0.0, mask=2.0))) == 21.0 - 1.0 + 6.0


def test_mismatched_terms_are_refused():
    with pytest.raises(KeyError):
        total_loss({"loss_semantic": torch.tensor(1.0)})
