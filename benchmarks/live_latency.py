"""How old is the frame being segmented, for a live source? A fake fast camera and a model slowed to a fixed
period, side by side in one run: no read-ahead (what live sources get) against an 8-frame read-ahead queue
in front of the model (what every source had before read-ahead was decided by the source kind).

    python benchmarks/live_latency.py --camera-fps 50 --model-period 0.1 --frames 30

The age of a frame is the time from its capture to its result; the model period is the time between two
results.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import efficientps_app.inference.predictor as predictor_module  # noqa: E402
from efficientps_app.assets import DEMO_WEIGHTS  # noqa: E402
from efficientps_app.inference.predictor import Predictor  # noqa: E402
from efficientps_app.sources.live import LiveSource  # noqa: E402
from tests.media import FakeCamera, PacedBackend  # noqa: E402


def measure(predictor: Predictor, camera_fps: float, frames: int, read_ahead: int) -> tuple[list[float], float]:
    """Frame ages (s, the first frame left out) and the median model period (s)."""
    predictor_module.read_ahead = lambda kind: read_ahead  # the decision, overridden for the comparison
    camera, ages, done = FakeCamera(camera_fps, size=(128, 256)), [], []
    with LiveSource("fake camera", capture=camera) as source:
        for pred in itertools.islice(predictor.stream(source), frames + 1):
            done.append(time.monotonic())
            ages.append(done[-1] - camera.times[pred.frame.meta.index])
    return ages[1:], statistics.median(np.diff(done))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--camera-fps", type=float, default=50.0)
    parser.add_argument("--model-period", type=float, default=0.1, help="seconds per forward pass")
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    predictor = Predictor(DEMO_WEIGHTS, device="cpu")
    predictor.backend = PacedBackend(predictor.backend, args.model_period)
    decided = predictor_module.read_ahead
    print(f"camera {args.camera_fps:g} frames/s, model {args.model_period * 1000:.0f} ms per frame, "
          f"{args.frames} frames each")
    print(f"{'read-ahead':24s} {'period ms':>10s} {'median age ms':>14s} {'p90 age ms':>11s} {'age / period':>13s}")
    for label, ahead in (("none (live sources now)", decided("live")), ("8 frames (before)", 8)):
        ages, period = measure(predictor, args.camera_fps, args.frames, ahead)
        med = statistics.median(ages)
        print(f"{label:24s} {1000 * period:10.0f} {1000 * med:14.0f} {1000 * float(np.percentile(ages, 90)):11.0f} {med / period:13.1f}")
    predictor_module.read_ahead = decided


if __name__ == "__main__":
    main()
