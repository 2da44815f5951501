"""Fixtures of the app tests: a tiny weights file and small media."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from model import PRESETS, build_efficientps
from model.weights import save_model

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the viewer tests run headless


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """An untrained ``tiny`` model (seeded): real network, meaningless output."""
    torch.manual_seed(0)
    model = build_efficientps(PRESETS["tiny"])
    return save_model(model, tmp_path_factory.mktemp("weights") / "tiny.safetensors")
