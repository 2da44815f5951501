"""Training throughput (images/s) and peak memory, side by side in one run.

Each configuration runs in its own subprocess so that peak memory is its own: on CPU the peak resident
set size of the process, on CUDA torch's peak allocated memory. Default: the tiny preset on the CPU with
the plain norm layer and with inplace-abn; on a GPU add e.g. ``--presets b5-cityscapes --size 1024 2048
--amp fp16``.

    python benchmarks/train_throughput.py --presets tiny --size 256 512 --batch 2 --steps 10
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _one(preset: str, norm: str, size: tuple[int, int], batch: int, steps: int, amp: str, device: str) -> dict:
    from tests.conftest import make_target

    from model import PRESETS, build_efficientps
    from train.losses import total_loss

    dev = torch.device(device)
    torch.manual_seed(0)
    model = build_efficientps(dataclasses.replace(PRESETS[preset], norm=norm)).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    h, w = size
    boxes = [(w // 8, h // 4, w // 3, h // 2), (w // 2, h // 3, 3 * w // 4, 3 * h // 4)]
    targets = [{k: v.to(dev) for k, v in make_target(h, w, boxes).items()} for _ in range(batch)]
    images = torch.rand(batch, 3, h, w, device=dev)
    times = []
    for i in range(steps + 2):  # two warm-up steps
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.float16 if amp == "fp16" else torch.bfloat16, enabled=amp != "none"):
            loss = total_loss(model(images, targets))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"preset": preset, "norm": norm, "amp": amp, "images_per_s": round(batch * len(times) / sum(times), 2),
            "peak_mib": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny"])
    parser.add_argument("--norms", nargs="+", default=["bn", "iabn"])
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--amp", default="none", choices=["none", "fp16", "bf16"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        preset, norm = args.child.split(",")
        print(json.dumps(_one(preset, norm, tuple(args.size), args.batch, args.steps, args.amp, args.device)))
        return
    print(f"# torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads, "
          f"{args.size[0]}x{args.size[1]}, batch {args.batch}, {args.steps} steps after 2 warm-up\n")
    print("| preset | norm | amp | images/s | peak memory (MiB) |")
    print("|---|---|---|---:|---:|")
    for preset in args.presets:
        for norm in args.norms:
            cmd = [sys.executable, __file__, "--child", f"{preset},{norm}", "--size", *map(str, args.size),
                   "--batch", str(args.batch), "--steps", str(args.steps), "--amp", args.amp, "--device", args.device]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(f"| {preset} | {norm} | {args.amp} | failed: {proc.stderr.strip().splitlines()[-1]} | |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"| {preset} | {norm} | {r['amp']} | {r['images_per_s']:.2f} | {r['peak_mib']} |", flush=True)


if __name__ == "__main__":
    main()
