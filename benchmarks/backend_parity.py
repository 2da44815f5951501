"""Panoptic agreement of the exported backends with PyTorch: ONNX Runtime, OpenVINO f32 and OpenVINO with
``--half`` (bf16 or fp16, what the CPU offers), on synthetic val scenes, a blank frame and a crowded frame.

The demo weights (``--weights``, the default) are trained on the synthetic scenes; a preset without weights
(``--preset b5-cityscapes``) gets seeded random weights with norm statistics calibrated on a scene, as in
benchmarks/model_latency.py. The crowded frame runs a second export with score threshold 0, so that every
detection slot is filled. Each row: the lowest share of pixels (over the frames) whose class and instance
agree with PyTorch, and the detections of PyTorch / the backend.

    python benchmarks/backend_parity.py --size 256 512 --scenes 4
    python benchmarks/backend_parity.py --preset b5-cityscapes --size 512 1024 --scenes 2
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.model_latency import calibrate_norm_stats  # noqa: E402
from efficientps_app.assets import DEMO_WEIGHTS  # noqa: E402
from efficientps_app.inference.export import ExportSpec, export_onnx  # noqa: E402
from efficientps_app.inference.onnx_backend import OnnxBackend  # noqa: E402
from efficientps_app.inference.parity import parity_report  # noqa: E402
from model import PRESETS, build_efficientps  # noqa: E402
from model.efficientps import EfficientPS  # noqa: E402
from model.weights import load_model  # noqa: E402
from train.synth import render_scene  # noqa: E402


def _model(preset: str | None, size: tuple[int, int]) -> EfficientPS:
    if preset is None:
        return load_model(DEMO_WEIGHTS)
    torch.manual_seed(0)
    model = build_efficientps(PRESETS[preset]).eval()
    image = torch.from_numpy(render_scene(*size, seed=0)[0]).permute(2, 0, 1)[None].float() / 255
    calibrate_norm_stats(model, image)
    return model


def _backends(path: Path) -> list:
    backends = [OnnxBackend(path, "cpu")]
    if find_spec("openvino") is not None:
        from efficientps_app.inference.openvino_backend import OpenVinoBackend

        backends += [OpenVinoBackend(path, "cpu"), OpenVinoBackend(path, "cpu", half=True)]
    return backends


def _rows(model: EfficientPS, images: dict[str, np.ndarray], tmp: Path, tag: str) -> list[tuple]:
    path = export_onnx(model, tmp / f"{tag}.onnx", ExportSpec())
    rows = []
    for backend in _backends(path):
        report = parity_report(model, backend, images)
        worst = min(r["panoptic_pixel_agreement"] for r in report.values())
        dets = ", ".join(f"{r['detections_torch']}/{r['detections_backend']}" for r in report.values())
        rows.append((tag, backend.note, worst, dets))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=list(PRESETS), help="random weights of a preset (default: demo weights)")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 512))
    parser.add_argument("--scenes", type=int, default=4, help="synthetic val scenes")
    args = parser.parse_args()
    size = tuple(args.size)
    model = _model(args.preset, size)
    scenes = {f"scene {i}": render_scene(*size, seed=1000 + i)[0] for i in range(args.scenes)}
    blank = {"blank": np.full((*size, 3), 128, np.uint8)}
    print(f"# {args.preset or DEMO_WEIGHTS.name}, {size[0]}x{size[1]}, torch {torch.__version__}\n")
    print("| frames | backend | lowest panoptic agreement | detections torch/backend per frame |")
    print("|---|---|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        rows = _rows(model, scenes | blank, Path(tmp), "scenes + blank")
        model.roi_heads.score_thresh = 0.0
        model.cfg = dataclasses.replace(model.cfg, instance=dataclasses.replace(model.cfg.instance, score_thresh=0.0))
        rows += _rows(model, {"crowded": scenes["scene 0"]}, Path(tmp), "crowded")
    for tag, note, worst, dets in rows:
        print(f"| {tag} | {note} | {100 * worst:.3f} % | {dets} |", flush=True)


if __name__ == "__main__":
    main()
