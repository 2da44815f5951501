"""Inference backends side by side in one run: PyTorch eager fp32, channels_last, channels_last + bf16
autocast, ONNX Runtime (CPU, and CUDA when present), OpenVINO f32 and bf16 (when installed, on a CPU with
bf16); on CUDA also torch fp16 autocast.

The backends take turns, one call of each per round, so that other load on the machine slows every row
alike. Each number is the median wall time of ``forward_raw`` (the network; the fusion is the same Python
function for every backend and is timed in benchmarks/fusion.py) for one image; the exported backends are
timed through the backend (the graph plus turning its slots into raw outputs). Untrained weights get
their norm statistics calibrated on the benchmark image and the score threshold set to 0 (100 detections,
the worst case), as in benchmarks/model_latency.py.

    python benchmarks/backends.py --presets tiny b5-cityscapes --size 512 1024
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.model_latency import calibrate_norm_stats  # noqa: E402
from efficientps_app.inference.export import ExportSpec, export_onnx  # noqa: E402
from efficientps_app.inference.onnx_backend import CUDA, OnnxBackend  # noqa: E402
from model import PRESETS, build_efficientps  # noqa: E402


def _interleaved_ms(calls: list[tuple[str, Callable[[], object], bool]], warmup: int, repeats: int) -> list[tuple]:
    """(name, median ms) per call. The calls take turns (one of each per round), so that a load that comes
    and goes on a shared machine slows every row alike and the ratios stay comparable."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in calls}
    for i in range(warmup + repeats):
        for name, fn, cuda in calls:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize()
            if i >= warmup:
                times[name].append(1000 * (time.perf_counter() - start))
    return [(name, statistics.median(t)) for name, t in times.items()]


def run_preset(preset: str, size: tuple[int, int], device: torch.device, warmup: int, repeats: int) -> list[tuple]:
    torch.manual_seed(0)
    model = build_efficientps(PRESETS[preset]).eval().to(device)
    model.roi_heads.score_thresh = 0.0
    image = torch.rand(1, 3, *size, device=device)
    calibrate_norm_stats(model, image)
    cuda = device.type == "cuda"
    last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    image_last = image.contiguous(memory_format=torch.channels_last)

    def torch_call(m, x, ctx) -> Callable[[], object]:
        def call():
            with torch.inference_mode(), ctx():
                m.forward_raw(x)

        return call

    calls = [("torch eager fp32", torch_call(model, image, contextlib.nullcontext), cuda),
             ("torch channels_last fp32", torch_call(last, image_last, contextlib.nullcontext), cuda),
             ("torch channels_last + bf16 autocast",
              torch_call(last, image_last, lambda: torch.autocast(device.type, dtype=torch.bfloat16)), cuda)]
    if cuda:
        calls.append(("torch fp16 autocast",
                      torch_call(model, image, lambda: torch.autocast("cuda", dtype=torch.float16)), True))
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(copy.deepcopy(model).cpu(), Path(tmp) / f"{preset}.onnx", ExportSpec())
        cpu_image = image.cpu()
        backend = OnnxBackend(path, "cpu")
        calls.append(("ONNX Runtime CPU", lambda: backend(cpu_image), False))
        calls += _openvino_calls(path, cpu_image)
        if cuda:
            gpu = OnnxBackend(path, "auto")
            if gpu.active == CUDA:
                calls.append(("ONNX Runtime CUDA", lambda: gpu(image), True))
        return _interleaved_ms(calls, warmup, repeats)


def _openvino_calls(path: Path, image: torch.Tensor) -> list[tuple[str, Callable[[], object], bool]]:
    """OpenVINO f32, and with --half what the CPU offers (bf16 or fp16); none without OpenVINO."""
    from importlib.util import find_spec

    if find_spec("openvino") is None:
        print("# OpenVINO is not installed: no OpenVINO rows", file=sys.stderr)
        return []
    from efficientps_app.inference.openvino_backend import OpenVinoBackend

    calls = []
    for half in (False, True):
        backend = OpenVinoBackend(path, "cpu", half=half)
        if half and backend.precision == "fp32":
            continue  # this CPU has neither bf16 nor fp16: the row would repeat f32
        calls.append((f"OpenVINO CPU {backend.precision}", lambda b=backend: b(image), False))
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "b5-cityscapes"], choices=list(PRESETS))
    parser.add_argument("--size", type=int, nargs=2, default=(512, 1024))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"# torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, input {args.size[0]}x"
          f"{args.size[1]}, median of {args.repeats} after {args.warmup} warm-up, the backends taking turns\n")
    print("| preset | backend | ms / image | speed vs torch eager fp32 |")
    print("|---|---|---:|---:|")
    for preset in args.presets:
        rows = run_preset(preset, tuple(args.size), device, args.warmup, args.repeats)
        base = rows[0][1]
        for name, ms in rows:
            print(f"| {preset} | {name} | {ms:.1f} | {base / ms:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
