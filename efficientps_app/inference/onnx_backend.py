"""The ONNX Runtime backend: runs an ``efficientps export-onnx`` model on the CUDA or the CPU provider.

ONNX Runtime falls back to the CPU silently when the CUDA provider cannot load (missing CUDA/cuDNN
libraries, a CPU-only wheel); this backend checks ``session.get_providers()`` after creating the session
and stops with the reason when CUDA was asked for and is not what runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from efficientps_app.errors import EfficientPSError, WeightsError
from efficientps_app.inference.onnx_format import ExportedModel
from model.device import parse_device
from model.outputs import RawOutputs

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def _import_ort():
    try:
        import onnxruntime
    except ImportError:
        raise EfficientPSError("ONNX models need onnxruntime: pip install 'efficientps[cpu]' "
                               "(or 'efficientps[gpu]' for CUDA)") from None
    return onnxruntime


def choose_providers(device: str, available: list[str]) -> list:
    """Execution providers for a ``--device`` value, CUDA first when it is wanted and present.

    Raises:
        EfficientPSError: CUDA asked for and this onnxruntime has no CUDA provider.
        DeviceError: not a device name.
    """
    request = parse_device(device)
    if request.kind == "cpu":
        return [CPU]
    if request.kind == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    if CUDA not in available:
        raise EfficientPSError(f"--device {device}: this onnxruntime has no CUDA provider (a CPU-only wheel); "
                               "install 'efficientps[gpu]' (onnxruntime-gpu) instead of 'efficientps[cpu]', "
                               "or use --device cpu")
    return [(CUDA, {"device_id": request.index or 0}), CPU]


class OnnxBackend:
    """An exported model in ONNX Runtime. ``input_size`` is None for a dynamic model; ``batch`` is fixed."""

    name = "onnx"

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None, half: bool = False) -> None:
        ort = _import_ort()
        self.model = m = ExportedModel.read(path)
        self.config, self.input_size, self.batch = m.config, m.input_size, m.batch
        self.preferred_size = m.preferred_size
        self.precision, self.trained_on = m.precision, m.trained_on
        providers = choose_providers(device, ort.get_available_providers())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            raise WeightsError(f"{path}: ONNX Runtime cannot load the model ({str(err).splitlines()[0][:200]})") from None
        self.active = self.session.get_providers()[0]
        wanted_cuda = parse_device(device).kind == "cuda"
        if wanted_cuda and self.active != CUDA:
            raise EfficientPSError(f"--device {device}: ONNX Runtime could not start its CUDA provider (CUDA or cuDNN "
                                   "libraries missing or not matching this onnxruntime-gpu); use --device cpu")
        if self.precision == "fp16" and self.active != CUDA:
            raise EfficientPSError(f"{path}: an fp16 model runs on the CUDA provider only; export without --half "
                                   "for the CPU")
        self.device = torch.device("cuda") if self.active == CUDA and torch.cuda.is_available() else torch.device("cpu")
        self.notes = ("--half is a property of an ONNX model: export it with 'export-onnx --half'",) \
            if half and self.precision != "fp16" else ()
        self.note = f"ONNX Runtime {ort.__version__} on {'CUDA' if self.active == CUDA else 'the CPU'} ({self.precision})"

    def __call__(self, images: torch.Tensor) -> RawOutputs:
        """(B, 3, H, W) float RGB in [0, 1] -> raw outputs; batches are cut or padded to the model's size."""
        return self.model.run_batches(images, self._run)

    def _run(self, chunk: torch.Tensor) -> list[torch.Tensor]:
        if chunk.device.type == "cuda":  # I/O binding: the input stays on the GPU
            binding = self.session.io_binding()
            binding.bind_input("images", "cuda", chunk.device.index or 0, np.float32, list(chunk.shape),
                               chunk.data_ptr())
            for output in self.session.get_outputs():
                binding.bind_output(output.name, "cpu")
            self.session.run_with_iobinding(binding)
            arrays = binding.copy_outputs_to_cpu()
        else:
            arrays = self.session.run(None, {"images": chunk.cpu().numpy()})
        return [torch.from_numpy(np.asarray(a)) for a in arrays]
