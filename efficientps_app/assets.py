"""The bundled demo assets (``assets/`` of the source tree): synthetic-scene weights and a synthetic drive."""

from __future__ import annotations

from pathlib import Path

from efficientps_app.console import print_notes
from efficientps_app.errors import WeightsError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_WEIGHTS = ASSETS / "efficientps_tiny_synthetic.safetensors"
DEMO_VIDEO = ASSETS / "demo_drive.mp4"
DEMO_NOTE = ("bundled demo weights, trained on synthetic scenes: train on Cityscapes or import the official "
             "checkpoint for real footage")


def default_weights(announce: bool = True) -> Path:
    """The demo weights, used when no ``--weights`` is given (said in one line on stderr)."""
    if not DEMO_WEIGHTS.is_file():
        raise WeightsError(f"no --weights given and the bundled demo weights are missing ({DEMO_WEIGHTS}); "
                           "pass --weights FILE")
    if announce:
        print_notes([DEMO_NOTE])
    return DEMO_WEIGHTS
