"""Model latency per preset, input size and execution mode, measured side by side in one run.

Modes: eager fp32, channels_last fp32, bf16 autocast (CPU or CUDA) and, on CUDA, fp16 autocast. Each
number is the median wall time of the full eval forward (network + panoptic fusion) for one image.
Ratios are relative to eager fp32 of the same preset and size, from the same run.

Untrained weights need two adjustments to exercise the whole network. Their norm layers still hold the
initial running statistics (mean 0, variance 1), under which activations grow without bound through a
deep backbone (1e7 at stride 32 for B5) and the RPN proposes nothing; so the running statistics are first
set from one pass over the benchmark image. And no detection would pass the official score threshold
0.5, leaving the mask head and fusion idle; by default the threshold is 0, so every image carries the
maximum of 100 detections: the worst case for the instance branch and the fusion.

    python benchmarks/model_latency.py --presets tiny b0 b5-cityscapes --sizes 512x1024 1024x2048
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import PRESETS, build_efficientps  # noqa: E402
from model.efficientps import EfficientPS  # noqa: E402


def _size(text: str) -> tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def _modes(device: torch.device) -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    modes: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
        "fp32": contextlib.nullcontext,
        "channels_last": contextlib.nullcontext,
        "bf16 autocast": lambda: torch.autocast(device.type, dtype=torch.bfloat16),
    }
    if device.type == "cuda":
        modes["fp16 autocast"] = lambda: torch.autocast("cuda", dtype=torch.float16)
    return modes


def _time(
    model: EfficientPS, image: torch.Tensor, ctx: Callable, warmup: int, repeats: int
) -> tuple[float, int, int]:
    times: list[float] = []
    detections = things = 0
    for i in range(warmup + repeats):
        if image.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode(), ctx():
            raw = model.forward_raw(image)
            result = model.fuse(raw, 0)  # what model(image) does, keeping the detection count
        if image.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
        detections, things = len(raw.boxes), sum(s.is_thing for s in result.segments)
    return statistics.median(times), detections, things


def calibrate_norm_stats(model: EfficientPS, image: torch.Tensor) -> None:
    """Set every norm layer's running statistics to those of ``image`` (one no-grad pass)."""
    norms = [m for m in model.modules() if hasattr(m, "running_mean") and m.running_mean is not None]
    saved = [(m.momentum, m.training) for m in norms]
    for m in norms:
        m.momentum, m.training = 1.0, True
    with torch.no_grad():
        model.forward_raw(image)
    for m, (momentum, training) in zip(norms, saved):
        m.momentum, m.training = momentum, training


def run(args: argparse.Namespace) -> Iterator[dict]:
    device = torch.device(args.device)
    for preset in args.presets:
        model = build_efficientps(PRESETS[preset]).eval().to(device)
        model.roi_heads.score_thresh = args.score_thresh
        for h, w in args.sizes:
            torch.manual_seed(0)
            image = torch.rand(1, 3, h, w, device=device)
            calibrate_norm_stats(model, image)
            base = None
            for mode, ctx in _modes(device).items():
                if mode not in args.modes:
                    continue
                cl = mode == "channels_last"
                model = model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
                x = image.contiguous(memory_format=torch.channels_last) if cl else image
                ms, detections, things = _time(model, x, ctx, args.warmup, args.repeats)
                base = base or ms
                yield {"preset": preset, "size": f"{h}x{w}", "mode": mode, "ms": round(ms, 1),
                       "ratio_vs_fp32": round(base / ms, 2), "detections": detections,
                       "thing_segments": things}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "b0", "b5-cityscapes"], choices=list(PRESETS))
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(512, 1024), (1024, 2048)])
    parser.add_argument("--modes", nargs="+", default=["fp32", "channels_last", "bf16 autocast", "fp16 autocast"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--score-thresh", type=float, default=0.0, help="0 = worst case (100 detections)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"# torch {torch.__version__}, {args.device} ({where}), {torch.get_num_threads()} threads, "
          f"median of {args.repeats} after {args.warmup} warm-up\n")
    print("| preset | input | mode | ms / image | speed vs fp32 | detections | thing segments |")
    print("|---|---|---|---:|---:|---:|---:|")
    rows = []
    for row in run(args):
        rows.append(row)
        print(f"| {row['preset']} | {row['size']} | {row['mode']} | {row['ms']:.1f} | {row['ratio_vs_fp32']:.2f}x "
              f"| {row['detections']} | {row['thing_segments']} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
