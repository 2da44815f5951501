"""ONNX export of ``forward_slots`` (tensors only, detections in fixed-size slots; the fusion stays in
Python), with our metadata (:mod:`efficientps_app.inference.onnx_format`)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from efficientps_app.errors import ExportError
from efficientps_app.inference.onnx_format import CARRIED, ONNX_FORMAT, ONNX_FORMAT_VERSION, OUTPUT_NAMES
from efficientps_app.outputs.files import atomic_path
from model.config import config_to_dict
from model.efficientps import EfficientPS
from model.weights import size_text

DEFAULT_OPSET = 17


class _RawGraph(nn.Module):
    """What is traced: fp32 images in, fp32 :class:`~model.outputs.DetectionSlots` out (fp16 inside with
    ``half``)."""

    def __init__(self, model: EfficientPS, half: bool) -> None:
        super().__init__()
        self.model, self.half = model, half

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raw = self.model.forward_slots(images.half() if self.half else images)
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
                preferred_size: tuple[int, int] | None = None, weights_meta: dict[str, str] | None = None) -> Path:
    """Trace ``model.forward_slots`` to ONNX at ``path`` (atomically) with our metadata; check the graph.

    ``weights_meta`` is the header of the weights file the model came from: its :data:`CARRIED` entries are
    kept in the ONNX metadata.

    Raises:
        ExportError: the export is impossible as asked (fp16 without CUDA, sizes not a multiple of 32, ...).
    """
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
    dynamic: dict[str, dict[int, str]] = {}  # detections are in fixed slots: only H and W can vary
    if spec.imgsz is None:
        dynamic = {"images": {2: "height", 3: "width"}, "sem_logits": {2: "height", 3: "width"}}
    try:
        with atomic_path(path) as tmp:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")  # tracer warnings about Python ints are expected and harmless
                torch.onnx.export(graph, (dummy,), str(tmp), dynamo=False, opset_version=spec.opset,
                                  input_names=["images"], output_names=OUTPUT_NAMES, dynamic_axes=dynamic)
            _add_metadata(tmp, model, spec, source, preferred_size, weights_meta)
    except ExportError:
        raise
    except Exception as err:
        raise ExportError(f"ONNX export failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}") from err
    finally:
        if spec.half:
            model.float()
    return path


def _add_metadata(path: Path, model: EfficientPS, spec: ExportSpec, source: str,
                  preferred_size: tuple[int, int] | None, weights_meta: dict[str, str] | None) -> None:
    """Write our metadata (:mod:`efficientps_app.inference.onnx_format`) into the traced model; check it."""
    import onnx

    proto = onnx.load(str(path))
    meta = {
        "format": ONNX_FORMAT, "format_version": ONNX_FORMAT_VERSION,
        "config": json.dumps(config_to_dict(model.cfg)),
        "input": "dynamic" if spec.imgsz is None else size_text(spec.imgsz),
        "batch": str(spec.batch), "precision": "fp16" if spec.half else "fp32",
        "efficientps_version": _version("efficientps"), "torch_version": torch.__version__,
        "onnx_version": onnx.__version__, "opset": str(spec.opset), "source_weights": source,
        "input_format": "RGB float32 in [0, 1], NCHW; normalisation is inside the graph",
    }
    if preferred_size is not None:
        meta["preferred_size"] = size_text(preferred_size)
    meta |= {k: v for k, v in (weights_meta or {}).items() if k in CARRIED}
    onnx.helper.set_model_props(proto, meta)
    proto.doc_string = "EfficientPS forward_slots (panoptic fusion runs outside the graph)"
    onnx.save(proto, str(path))
    onnx.checker.check_model(str(path))
