"""Stuff smoothing: a one-frame flicker of a stuff region is voted away, a lasting change is accepted after
two frames, things are left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientps_app.inference.smoothing import StuffSmoother
from model.fusion import describe_segments
from model.outputs import PanopticResult

ROAD, SIDEWALK, CAR = 0, 1, 13


def _frame(patch: int) -> PanopticResult:
    """64 x 96: road, a 16 x 16 patch of class ``patch`` at (40, 20), a car at (8, 8)-(24, 24)."""
    sem = torch.full((64, 96), ROAD)
    sem[20:36, 40:56] = patch
    pan = torch.zeros((64, 96), dtype=torch.int32)
    pan[8:24, 8:24] = 1
    info = [(CAR, True, 0.9)]
    for c in sorted({ROAD, patch}):
        info.append((c, False, None))
        pan[(pan == 0) & (sem == c)] = len(info)
    sem[8:24, 8:24] = CAR
    return PanopticResult(pan, describe_segments(pan, info), sem)


def _stuff_at(result: PanopticResult, y: int, x: int) -> int:
    seg = next(s for s in result.segments if s.id == int(result.panoptic[y, x]))
    assert int(result.semantic[y, x]) == seg.category_id
    return seg.category_id


@pytest.mark.parametrize("max_side", [512, 48])  # full resolution, and scores kept 2x smaller
def test_flicker_is_voted_away_and_a_lasting_change_is_accepted(max_side):
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)  # a still, textured scene
    smoother = StuffSmoother(num_stuff=11, max_side=max_side)
    for _ in range(4):
        out = smoother.update(image, _frame(ROAD))
    assert _stuff_at(out, 28, 48) == ROAD
    flicker = smoother.update(image, _frame(SIDEWALK))  # one frame says sidewalk: the past (0.65) outvotes it
    assert _stuff_at(flicker, 28, 48) == ROAD and SIDEWALK not in {s.category_id for s in flicker.segments}
    assert _stuff_at(smoother.update(image, _frame(SIDEWALK)), 28, 48) == SIDEWALK  # the second frame wins
    car = flicker.segments[0]
    assert (car.id, car.category_id, car.area, car.score) == (1, CAR, 256, 0.9)
    assert bool((flicker.panoptic[8:24, 8:24] == 1).all()) and int(flicker.semantic[10, 10]) == CAR


def test_no_smoothing_at_alpha_one_and_after_reset():
    image = np.zeros((64, 96, 3), np.uint8)
    smoother = StuffSmoother(num_stuff=11, alpha=1.0)
    smoother.update(image, _frame(ROAD))
    assert _stuff_at(smoother.update(image, _frame(SIDEWALK)), 28, 48) == SIDEWALK
    smoother = StuffSmoother(num_stuff=11)
    smoother.update(image, _frame(ROAD))
    smoother.reset()
    assert _stuff_at(smoother.update(image, _frame(SIDEWALK)), 28, 48) == SIDEWALK
