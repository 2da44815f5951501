"""Inference backends: a model that maps a batch of images to :class:`~model.outputs.RawOutputs`.

Every backend satisfies the same small contract (``config``, ``device``, ``__call__``), so the predictor,
the fusion and the sinks do not care which one runs.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Protocol

import torch

from efficientps_app.errors import EfficientPSError, WeightsError
from model.config import EfficientPSConfig
from model.device import torch_device
from model.outputs import RawOutputs


BACKENDS = ("auto", "torch", "onnx", "openvino")


class RawModel(Protocol):
    """(B, 3, H, W) float RGB in [0, 1] on ``device`` -> raw network outputs at that resolution."""

    config: EfficientPSConfig
    device: torch.device  # where the caller puts the input batch
    name: str
    input_size: tuple[int, int] | None  # fixed (H, W) of an exported model, None = any size
    preferred_size: tuple[int, int] | None  # (H, W) the model was made for: the default inference size
    batch: int  # fixed batch size of an exported model, 0 = any
    precision: str  # "fp32", "fp16" or "bf16": what runs, decided by the backend from what was asked and what it can do
    notes: tuple[str, ...]  # where what runs differs from what was asked for
    note: str  # one line saying what runs
    trained_on: str | None  # the model's ``trained_on`` metadata (the demo weights say "synthetic scenes ...")

    def __call__(self, images: torch.Tensor) -> RawOutputs: ...


class TorchBackend:
    """The PyTorch model from a ``.safetensors`` weights file (fp32, or fp16 autocast on CUDA)."""

    name = "torch"
    input_size = None
    batch = 0

    def __init__(self, weights: str | Path, device: torch.device, half: bool = False,
                 score_thresh: float | None = None) -> None:
        from model.weights import WeightsFileError, load_model, preferred_size, read_metadata

        try:
            self.model = load_model(weights, device=device)
            self.preferred_size = preferred_size(weights)
            self.trained_on = read_metadata(weights).get("trained_on")  # the demo weights: "synthetic scenes ..."
        except WeightsFileError as err:
            raise WeightsError(str(err)) from None
        if score_thresh is not None:
            self.model.roi_heads.score_thresh = score_thresh
        self.config, self.device = self.model.cfg, device
        self.precision = "fp16" if half and device.type == "cuda" else "fp32"
        self.notes = ("--half needs CUDA; running in fp32 on the CPU",) if half and device.type != "cuda" else ()
        self.note = f"PyTorch {torch.__version__} on {device} ({self.precision})"

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> RawOutputs:
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.precision == "fp16" else nullcontext()
        with autocast:
            raw = self.model.forward_raw(images)
        return RawOutputs(*(t.float() if t.is_floating_point() else t for t in raw))


def load_backend(weights: str | Path, device: str, half: bool, score_thresh: float | None,
                 kind: str = "auto", threads: int | None = None) -> RawModel:
    """The backend for a weights file: ``.safetensors`` runs in PyTorch, ``.onnx`` in ONNX Runtime (or
    OpenVINO). The backend decides the device and the precision (``half`` is a wish) and says so in ``notes``.

    Args:
        weights: a file, or the name of fetched weights (``cityscapes``, ``kitti``).
        kind: ``auto`` (from the suffix), ``torch``, ``onnx`` or ``openvino`` (checked against the file).
    """
    from efficientps_app.weights.cache import resolve_weights

    if kind not in BACKENDS:
        raise EfficientPSError(f"--backend {kind}: expected one of {', '.join(BACKENDS)}")
    path = resolve_weights(weights)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    suffix = path.suffix.lower()
    if suffix not in (".safetensors", ".onnx"):
        raise WeightsError(f"{path}: not a weights file this tool reads (.safetensors or .onnx)")
    found = "torch" if suffix == ".safetensors" else "onnx"
    if kind not in ("auto", found) and (kind, found) != ("openvino", "onnx"):
        hint = "use the .safetensors it came from" if kind == "torch" else "export it with 'efficientps export-onnx'"
        raise EfficientPSError(f"--backend {kind}: {path.name} is a {found} model; {hint}")
    if found == "torch":
        return TorchBackend(path, torch_device(device), half, score_thresh)
    if kind == "openvino":
        from efficientps_app.inference.openvino_backend import OpenVinoBackend

        return OpenVinoBackend(path, device, threads, half)
    from efficientps_app.inference.onnx_backend import OnnxBackend

    return OnnxBackend(path, device, threads, half)
