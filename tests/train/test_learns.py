"""Proof that it learns: the tiny preset trained from scratch on synthetic scenes (CPU, one thread, a few
minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model import PRESETS, build_efficientps
from train.config import resolve_config
from train.data import find_samples
from train.evaluate import evaluate_model
from train.loop import fit
from train.prepare import prepare_dataset
from train.synth import write_synthetic_cityscapes

RECIPE = dict(preset="tiny", epochs=30, batch_size=4, crop=(128, 256), scale_range=(0.75, 1.25), workers=0,
              optimizer="adam", lr=2e-3, eval_interval=30, device="cpu", seed=0)
"""Also in the docs, as a command line. The schedule is the default one fitted to 30 epochs of 12 iterations:
warmup 36 iterations (10% of the run), x0.1 at epochs 23 and 27 (0.75 and 0.9 of the run)."""


@pytest.mark.slow
def test_tiny_model_learns_panoptic_segmentation(tmp_path: Path, one_thread):
    data = tmp_path / "cs"
    write_synthetic_cityscapes(data, train=48, val=8, size=(128, 256), seed=3)
    prepare_dataset(data)
    torch.manual_seed(0)
    untrained = evaluate_model(build_efficientps(PRESETS["tiny"]), find_samples(data, "val"),
                               PRESETS["tiny"].classes, torch.device("cpu"))
    result = fit(resolve_config("official", data=str(data), project=str(tmp_path), name="learn", **RECIPE))
    trained = result.last_eval
    assert untrained["All"]["pq"] < 0.02
    print(f"untrained PQ {untrained['All']['pq']:.4f} mIoU {untrained['miou']:.4f}, trained: {trained['All']}, things {trained['Things']}, "
          f"stuff {trained['Stuff']}, mIoU {trained['miou']:.4f}")
    assert trained["All"]["pq"] > 0.15, trained["All"]
    assert trained["Stuff"]["pq"] > 0.2 and trained["Things"]["pq"] > 0.03, (trained["Stuff"], trained["Things"])
    assert trained["miou"] > untrained["miou"] + 0.1
