"""Shared fixtures: the tiny preset and small synthetic training targets."""

from __future__ import annotations

import pytest
import torch

from model import PRESETS, build_efficientps
from model.efficientps import EfficientPS


def make_target(height: int, width: int, boxes: list[tuple[int, int, int, int]], label: int = 13) -> dict:
    """A training target with rectangular instances of class ``label`` over random stuff.

    Boxes are (x0, y0, x1, y1) pixel-edge coordinates (the mask covers columns x0..x1-1).
    """
    gen = torch.Generator().manual_seed(height * 7 + width + len(boxes))
    semantic = torch.randint(0, 11, (height, width), generator=gen)
    masks = torch.zeros((len(boxes), height, width), dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, y0:y1, x0:x1] = True
        semantic[masks[i]] = label
    semantic[:2] = 255  # a strip of void
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.full((len(boxes),), label, dtype=torch.int64),
        "masks": masks,
        "semantic": semantic,
    }


@pytest.fixture
def tiny_model() -> EfficientPS:
    torch.manual_seed(0)
    return build_efficientps(PRESETS["tiny"])


@pytest.fixture
def one_thread():
    """One intra-op thread: the suite runs a worker per core (xdist), and two threads each would compete;
    a training run on one thread is also the same run every time on the same CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
