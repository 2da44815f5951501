"""Panoptic fusion time for K random detections on random semantic logits (the cost ``segment`` pays per frame).

    python benchmarks/fusion.py --size 1024 2048 --detections 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.config import FusionConfig  # noqa: E402
from model.fusion import fuse_panoptic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 2048))
    parser.add_argument("--detections", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    (h, w), k = args.size, args.detections
    sem = torch.randn(19, h, w)
    x1, y1 = torch.rand(k) * (w - 200), torch.rand(k) * (h - 200)
    boxes = torch.stack([x1, y1, x1 + 20 + torch.rand(k) * 180, y1 + 20 + torch.rand(k) * 180], 1)
    labels, scores, masks = torch.randint(11, 19, (k,)), torch.rand(k), torch.randn(k, 28, 28)
    times = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        result = fuse_panoptic(sem, boxes, labels, scores, masks, FusionConfig(), 11)
        times.append(time.perf_counter() - start)
    print(f"fusion of {k} detections at {h}x{w}: {1000 * statistics.median(times[1:]):.0f} ms "
          f"(median of {args.repeats}, {torch.get_num_threads()} threads); {len(result.segments)} segments")


if __name__ == "__main__":
    main()
