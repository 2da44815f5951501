"""ONNX export of ``forward_raw`` (tensors only; the fusion stays in Python) and the parity check.

The ``.onnx`` file carries everything needed to run it, as ONNX metadata: the model config (classes,
palette, thresholds, normalisation), the input size or "dynamic", the batch size, the precision and the
versions it was exported with. The normalisation itself is inside the graph: inputs are RGB in [0, 1].
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from efficientps_app.errors import ExportError, WeightsError
from model.config import config_to_dict
from model.efficientps import EfficientPS
from model.outputs import RawOutputs

ONNX_FORMAT, ONNX_FORMAT_VERSION = "efficientps-onnx", "1"
OUTPUT_NAMES = list(RawOutputs._fields)
DEFAULT_OPSET = 17


class _RawGraph(nn.Module):
    """What is traced: fp32 images in, fp32 raw outputs out (fp16 inside with ``half``)."""

    def __init__(self, model: EfficientPS, half: bool) -> None:
        super().__init__()
        self.model, self.half = model, half

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raw = self.model.forward_raw(images.half() if self.half else images)
        return tuple(t.float() if t.is_floating_point() else t for t in raw)


@dataclass(frozen=True)
class ExportSpec:
    """What to export: ``imgsz`` (H, W) for a fixed input size or None for dynamic H and W."""

    imgsz: tuple[int, int] | None = None
    batch: int = 1
    opset: int = DEFAULT_OPSET
    half: bool = False


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def export_onnx(model: EfficientPS, path: Path, spec: ExportSpec, source: str = "",
                preferred_size: tuple[int, int] | None = None) -> Path:
    """Trace ``model.forward_raw`` to ONNX at ``path`` (atomically) with our metadata; check the graph.

    Raises:
        ExportError: the export is impossible as asked (fp16 without CUDA, sizes not a multiple of 32, ...).
    """
    import onnx

    if spec.half and next(model.parameters()).device.type != "cuda":
        raise ExportError("--half exports an fp16 graph for CUDA and needs a CUDA device to trace on; "
                          "export fp32 here (ONNX Runtime runs fp32 on the GPU too)")
    if spec.imgsz is not None and (min(spec.imgsz) < 32):
        raise ExportError(f"--imgsz {spec.imgsz[0]} {spec.imgsz[1]}: both sides must be at least 32")
    if spec.batch < 1:
        raise ExportError(f"--batch must be >= 1, got {spec.batch}")
    device = next(model.parameters()).device
    h, w = spec.imgsz or (256, 512)
    dummy = torch.rand(spec.batch, 3, h, w, device=device)
    graph = _RawGraph(model.half() if spec.half else model, spec.half).eval()
    dynamic: dict[str, dict[int, str]] = {name: {0: "detections"} for name in OUTPUT_NAMES[1:]}
    if spec.imgsz is None:
        dynamic |= {"images": {2: "height", 3: "width"}, "sem_logits": {2: "height", 3: "width"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.onnx")
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints are expected and harmless here
            torch.onnx.export(graph, (dummy,), str(tmp), dynamo=False, opset_version=spec.opset,
                              input_names=["images"], output_names=OUTPUT_NAMES, dynamic_axes=dynamic)
        proto = onnx.load(str(tmp))
        meta = {
            "format": ONNX_FORMAT, "format_version": ONNX_FORMAT_VERSION,
            "config": json.dumps(config_to_dict(model.cfg)),
            "input": "dynamic" if spec.imgsz is None else f"{spec.imgsz[0]}x{spec.imgsz[1]}",
            "batch": str(spec.batch), "precision": "fp16" if spec.half else "fp32",
            "efficientps_version": _version("efficientps"), "torch_version": torch.__version__,
            "onnx_version": onnx.__version__, "opset": str(spec.opset), "source_weights": source,
            "input_format": "RGB float32 in [0, 1], NCHW; normalisation is inside the graph",
        }
        if preferred_size is not None:
            meta["preferred_size"] = f"{preferred_size[0]}x{preferred_size[1]}"
        onnx.helper.set_model_props(proto, meta)
        proto.doc_string = "EfficientPS forward_raw (panoptic fusion runs outside the graph)"
        onnx.save(proto, str(tmp))
        onnx.checker.check_model(str(tmp))
        os.replace(tmp, path)
    except ExportError:
        raise
    except Exception as err:
        raise ExportError(f"ONNX export failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}") from err
    finally:
        tmp.unlink(missing_ok=True)
        if spec.half:
            model.float()
    return path


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """Our metadata of an exported model.

    Raises:
        WeightsError: not a readable ONNX file, or an ONNX model not exported by efficientps.
    """
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError and friends for damaged files
        raise WeightsError(f"{path}: not a readable ONNX model ({type(err).__name__})") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("format") != ONNX_FORMAT:
        raise WeightsError(f"{path}: an ONNX model without efficientps metadata (export it with "
                           "'efficientps export-onnx')")
    if meta.get("format_version") != ONNX_FORMAT_VERSION:
        raise WeightsError(f"{path}: efficientps ONNX format version {meta.get('format_version')!r} is not supported")
    return meta


def parity_report(model: EfficientPS, backend, images: dict[str, np.ndarray]) -> dict:
    """Compare PyTorch and another backend on named RGB uint8 images (same fusion function for both).

    Returns per image: max |difference| of the semantic logits, detections of each side and how many
    match (same class, box IoU > 0.9), and the share of panoptic pixels that agree up to segment renumbering.
    """
    from model.fusion import fuse_panoptic

    report = {}
    for name, image in images.items():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255)
        if backend.input_size is not None:
            x = torch.nn.functional.interpolate(x, size=backend.input_size, mode="bilinear", align_corners=False)
        with torch.inference_mode():
            ref = model.forward_raw(x.to(next(model.parameters()).device))
        ref = RawOutputs(*(t.cpu() for t in ref))
        got = backend(x.repeat(backend.batch, 1, 1, 1) if backend.batch > 1 else x)
        sel = got.batch_index == 0
        got = RawOutputs(got.sem_logits[:1], *(t[sel] for t in got[1:]))
        a = fuse_panoptic(ref.sem_logits[0], ref.boxes, ref.labels, ref.scores, ref.mask_logits,
                          model.cfg.fusion, model.cfg.num_stuff)
        b = fuse_panoptic(got.sem_logits[0], got.boxes, got.labels, got.scores, got.mask_logits,
                          model.cfg.fusion, model.cfg.num_stuff)
        report[name] = {
            "size": list(x.shape[-2:]),
            "sem_logits_max_abs_diff": float((ref.sem_logits - got.sem_logits).abs().max()),
            "detections_torch": len(ref.boxes), "detections_onnx": len(got.boxes),
            "detections_matched": matched_detections(ref, got),
            "panoptic_pixel_agreement": panoptic_agreement(a, b),
        }
    return report


def matched_detections(a: RawOutputs, b: RawOutputs) -> int:
    from torchvision.ops import box_iou

    if not len(a.boxes) or not len(b.boxes):
        return 0
    iou = box_iou(a.boxes, b.boxes) * (a.labels[:, None] == b.labels[None, :])
    return int((iou.max(1).values > 0.9).sum())


def panoptic_agreement(a, b) -> float:
    """Pixels whose (class, thing instance) agree, with instance ids matched by overlap."""
    def classes(r):
        lut = torch.full((max((s.id for s in r.segments), default=0) + 1,), -1, dtype=torch.long)
        for s in r.segments:
            lut[s.id] = s.category_id
        return lut[r.panoptic.long()]

    same_class = classes(a) == classes(b)
    pa, pb = a.panoptic.long(), b.panoptic.long()
    n = int(max(pa.max(), pb.max())) + 1
    joint = torch.bincount((pa * n + pb).flatten(), minlength=n * n).view(n, n)
    best = joint.argmax(1)  # each id of a mapped to the id of b it overlaps most
    consistent = best[pa] == pb
    return float((same_class & consistent).float().mean())
