"""Fixtures of the app tests: a tiny weights file and small media."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model import PRESETS, build_efficientps
from model.weights import save_model


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """An untrained ``tiny`` model (seeded): real network, meaningless output."""
    torch.manual_seed(0)
    model = build_efficientps(PRESETS["tiny"])
    return save_model(model, tmp_path_factory.mktemp("weights") / "tiny.safetensors")
