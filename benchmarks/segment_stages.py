"""Cost of each per-frame stage of ``segment`` next to the network, measured side by side in one run.

A synthetic street scene's ground truth stands in for the model's result (realistic segment counts),
so rendering, tracking and writing are timed on what they will really see:

    python benchmarks/segment_stages.py --size 1024 2048 --preset b5-cityscapes
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efficientps_app.inference.tracking import Tracker  # noqa: E402
from efficientps_app.outputs.render import render  # noqa: E402
from model import PRESETS, build_efficientps  # noqa: E402
from model.classes import CITYSCAPES_CLASSES  # noqa: E402
from model.fusion import describe_segments  # noqa: E402
from model.outputs import PanopticResult  # noqa: E402
from train.synth import render_scene  # noqa: E402


def scene_result(height: int, width: int, seed: int) -> tuple[np.ndarray, PanopticResult]:
    """A synthetic scene and its ground truth as a PanopticResult (trainIds, things first)."""
    image, label, inst = render_scene(height, width, seed)
    lut = np.full(256, 255, np.int64)
    for c in CITYSCAPES_CLASSES:
        lut[c.label_id] = c.train_id
    train_ids = lut[label]
    pan = np.zeros(label.shape, np.int32)
    info = []
    for value in np.unique(inst[inst >= 1000]):
        info.append((int(lut[value // 1000]), True, 0.9))
        pan[inst == value] = len(info)
    for cls in range(11):
        mask = (train_ids == cls) & (pan == 0)
        if mask.any():
            info.append((cls, False, None))
            pan[mask] = len(info)
    pan_t = torch.from_numpy(pan)
    return image, PanopticResult(pan_t, describe_segments(pan_t, info), torch.from_numpy(train_ids))


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 2048))
    parser.add_argument("--preset", default="b5-cityscapes")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    h, w = args.size
    image, result = scene_result(h, w, seed=1)
    things = sum(s.is_thing for s in result.segments)
    import cv2

    tracker = Tracker()
    stages = {
        "render (overlay, contours, labels, legend)": lambda: render(image, result, CITYSCAPES_CLASSES),
        "tracking": lambda: tracker.update(result),
        "PNG encode of the overlay": lambda: cv2.imencode(".png", image),
        "JPEG encode of the overlay": lambda: cv2.imencode(".jpg", image),
        "npy copy (reference)": lambda: np.save(io.BytesIO(), image),
    }
    torch.manual_seed(0)
    model = build_efficientps(PRESETS[args.preset]).eval()
    x = torch.rand(1, 3, h, w)
    with torch.inference_mode():
        network = timed(lambda: model.forward_raw(x), max(args.repeats // 2, 1))
    print(f"{h}x{w}, {len(result.segments)} segments ({things} things), {torch.get_num_threads()} threads")
    print(f"{'stage':45s} {'ms':>9s} {'share of network':>17s}")
    print(f"{args.preset + ' network (forward_raw)':45s} {1000 * network:9.1f} {'1':>17s}")
    for name, fn in stages.items():
        t = timed(fn, args.repeats)
        print(f"{name:45s} {1000 * t:9.1f} {t / network:17.4f}")


if __name__ == "__main__":
    main()
