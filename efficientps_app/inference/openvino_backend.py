"""The OpenVINO backend: runs an ``efficientps export-onnx`` model (the same ``.onnx``) on OpenVINO's CPU plugin.

OpenVINO reads the ONNX file directly. Its CPU plugin computes in bf16 by default on CPUs with bf16
instructions, which changes the numerics; this backend sets the inference precision hint to f32 unless
``--half`` asks otherwise, and then uses bf16 (or f16) only where the device lists it among its
optimisation capabilities.
"""

from __future__ import annotations

from pathlib import Path

import torch

from efficientps_app.errors import EfficientPSError, WeightsError
from efficientps_app.inference.onnx_format import OUTPUT_NAMES, ExportedModel
from model.device import parse_device
from model.outputs import RawOutputs

DEVICE = "CPU"
_HALF = (("BF16", "bf16", "bf16"), ("FP16", "f16", "fp16"))  # capability, OpenVINO type, our precision name


def import_openvino():
    """The ``openvino`` module. Raises: EfficientPSError naming the extra when it is not installed."""
    try:
        import openvino
    except ImportError:
        raise EfficientPSError("--backend openvino needs OpenVINO: pip install 'efficientps[openvino]'") from None
    return openvino


def choose_precision(half: bool, capabilities: list[str]) -> tuple[str, str, tuple[str, ...]]:
    """(OpenVINO inference precision, our precision name, notes) for a ``--half`` wish on a device with
    these ``OPTIMIZATION_CAPABILITIES``: f32 unless half is asked for and the device has bf16 or f16."""
    if not half:
        return "f32", "fp32", ()
    for capability, ov_type, name in _HALF:
        if capability in capabilities:
            return ov_type, name, ()
    return "f32", "fp32", (f"--half: OpenVINO's {DEVICE} plugin offers neither bf16 nor fp16 here; running fp32",)


class OpenVinoBackend:
    """An exported model in OpenVINO on the CPU. ``input_size`` is None for a dynamic model; ``batch`` is fixed."""

    name = "openvino"
    device = torch.device("cpu")

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None, half: bool = False) -> None:
        ov = import_openvino()
        self.model = m = ExportedModel.read(path)
        self.config, self.input_size, self.batch = m.config, m.input_size, m.batch
        self.preferred_size = m.preferred_size
        self.trained_on = m.trained_on
        if parse_device(device).kind == "cuda":
            raise EfficientPSError(f"--device {device}: the OpenVINO backend runs on the CPU; use --device cpu, or "
                                   "--backend onnx for CUDA")
        if m.precision != "fp32":
            raise EfficientPSError(f"{path}: an fp16 model is made for ONNX Runtime's CUDA provider; export without "
                                   "--half for OpenVINO (--backend openvino --half picks bf16 or fp16 itself)")
        core = ov.Core()
        ov_type, self.precision, self.notes = choose_precision(
            half, list(core.get_property(DEVICE, "OPTIMIZATION_CAPABILITIES")))
        config: dict[str, object] = {"INFERENCE_PRECISION_HINT": ov_type}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self.compiled = core.compile_model(core.read_model(str(path)), DEVICE, config)
        except Exception as err:  # OpenVINO raises RuntimeError with multi-line reasons
            raise WeightsError(f"{path}: OpenVINO cannot load the model ({str(err).strip().splitlines()[0][:200]})") \
                from None
        ports = {name: port for port in self.compiled.outputs for name in port.get_names()}
        self.outputs = [ports[name] for name in OUTPUT_NAMES]
        self.request = self.compiled.create_infer_request()
        self.note = f"OpenVINO {ov.get_version().split('-')[0]} on the {DEVICE} ({self.precision})"

    def __call__(self, images: torch.Tensor) -> RawOutputs:
        """(B, 3, H, W) float RGB in [0, 1] -> raw outputs; batches are cut or padded to the model's size."""
        return self.model.run_batches(images, self._run)

    def _run(self, chunk: torch.Tensor) -> list[torch.Tensor]:
        results = self.request.infer({0: chunk.cpu().numpy()})
        return [torch.from_numpy(results[port].copy()) for port in self.outputs]
