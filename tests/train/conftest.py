"""A small synthetic Cityscapes folder, prepared once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.prepare import prepare_dataset
from train.synth import write_synthetic_cityscapes


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cityscapes")
    write_synthetic_cityscapes(root, train=6, val=4, size=(128, 256), seed=1)
    prepare_dataset(root)
    return root
