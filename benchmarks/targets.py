"""Cost of a training sample's ground truth next to the cost of reading its image, side by side in one run.

For synthetic Cityscapes scenes (default 1024x2048) written to a temporary folder, and the same scenes
converted to COCO panoptic, it times per sample: reading the image, reading the panoptic ground truth
(instanceIds -> segments as createPanopticImgs makes them; or PNG + JSON segments), and making the training
targets (semantic map, instance masks). Reported as the best of ``--repeat`` runs in milliseconds and as
ratios to the image read.

    python benchmarks/targets.py --size 1024 2048 --scenes 4 --repeat 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.classes import CITYSCAPES_CLASSES  # noqa: E402
from train.convert import convert_dataset  # noqa: E402
from train.data import read_ground_truth, read_image, targets_from_panoptic  # noqa: E402
from train.datasets import open_split  # noqa: E402
from train.synth import write_synthetic_cityscapes  # noqa: E402


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 2048))
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synthetic_cityscapes(root / "cs", train=args.scenes, val=1, size=tuple(args.size), seed=0)
        convert_dataset(root / "cs", root / "coco", splits=("train",))
        print(f"{args.scenes} scenes of {args.size[0]}x{args.size[1]}, best of {args.repeat}, ms per sample")
        print(f"{'layout':<14}{'image':>8}{'ground truth':>14}{'targets':>9}{'gt+targets / image':>20}")
        for layout in ("cs", "coco"):
            samples = open_split(root / layout, "train").samples
            image = sum(_best(lambda s=s: read_image(s.image), args.repeat) for s in samples) / len(samples)
            gt = sum(_best(lambda s=s: read_ground_truth(s), args.repeat) for s in samples) / len(samples)
            loaded = [read_ground_truth(s) for s in samples]
            targets = sum(_best(lambda x=x: targets_from_panoptic(*x, CITYSCAPES_CLASSES), args.repeat)
                          for x in loaded) / len(samples)
            name = "cityscapes" if layout == "cs" else "coco-panoptic"
            print(f"{name:<14}{image:>8.1f}{gt:>14.1f}{targets:>9.1f}{(gt + targets) / image:>20.2f}")


if __name__ == "__main__":
    main()
