"""Files per minute of a collection run with 1 process and with 2 processes under torchrun, side by side in one
run (alternating, median of the repeats), on a synthetic collection of street images and short drives:

    python benchmarks/collection.py --images 24 --videos 4 --seconds 2 --size 256 512

Each figure is the whole command from start to exit (Python and torch start-up, model load, every file
decoded, segmented and written with overlays), as a user meets it. Rows: one process on all the machine's
cores (torch's default), one process on one thread, and 2 processes under torchrun, each on cores / 2 threads
(what ``segment`` chooses). The load average before and after says what else the machine was doing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efficientps_app.assets import DEMO_WEIGHTS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def make_collection(folder: Path, images: int, videos: int, seconds: float, size: tuple[int, int]) -> int:
    """Synthetic street images and drives in ``folder``; the number of files."""
    from train.synth import render_scene
    from train.synth_video import write_synthetic_drive
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(images):
        Image.fromarray(render_scene(*size, seed=i)[0]).save(folder / f"street_{i:04d}.png")
    for v in range(videos):
        write_synthetic_drive(folder / f"drive_{v:02d}.mp4", seconds, 8, size, seed=v, crf=23)
    return images + videos


def timed_run(command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each drive (8 fps)")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--weights", default=str(DEMO_WEIGHTS))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="efficientps-collection-"))
    try:
        files = make_collection(work / "in", args.images, args.videos, args.seconds, tuple(args.size))
        frames = args.images + args.videos * int(round(args.seconds * 8))
        segment = ["-m", "efficientps_app", "segment", str(work / "in"), "--weights", args.weights, "--device", "cpu",
                   "-q"]
        cores = os.cpu_count() or 1
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
        setups = {f"1 process x {cores} threads": [sys.executable, *segment, "--shard", "0/1"],
                  "1 process x 1 thread": [sys.executable, *segment, "--shard", "0/1", "--threads", "1"],
                  f"2 processes (torchrun) x {max(cores // 2, 1)} thread(s)": [*torchrun, *segment]}
        load_before = os.getloadavg()
        walls: dict[str, list[float]] = {name: [] for name in setups}
        for r in range(args.repeats):
            for i, (name, command) in enumerate(setups.items()):
                out = work / f"out{i}_{r}"
                walls[name].append(timed_run([*command, "-o", str(out)]))
                shutil.rmtree(out)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{files} files ({args.images} images + {args.videos} drives of {args.seconds:g} s at 8 fps = {frames} frames), "
          f"{args.size[0]}x{args.size[1]}, {Path(args.weights).name}, {os.cpu_count()} cores, median of {args.repeats}; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print("\n| setup | wall s (each run) | files / min | frames / s | speed vs first row |\n|---|---:|---:|---:|---:|")
    base = statistics.median(next(iter(walls.values())))
    for name, times in walls.items():
        wall = statistics.median(times)
        each = ", ".join(f"{t:.1f}" for t in times)
        print(f"| {name} | {wall:.1f} ({each}) | {60 * files / wall:.1f} | {frames / wall:.2f} | {base / wall:.2f}x |")


if __name__ == "__main__":
    main()
