"""What this machine offers EfficientPS: torch/CUDA, ONNX Runtime providers, OpenVINO devices, PyAV codecs, Qt,
inplace_abn.

Each probe imports lazily and never raises: a missing optional package is a finding, not a crash.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

Status = Literal["ok", "warn", "missing"]


@dataclass(frozen=True)
class Check:
    """One line of ``efficientps doctor``. ``required`` checks make the doctor exit non-zero when missing."""

    name: str
    status: Status
    detail: str
    required: bool = False


def _torch() -> list[Check]:
    import torch

    checks = [Check("torch", "ok", f"{torch.__version__} (CUDA build {torch.version.cuda or 'none'})", True)]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        checks.append(Check("CUDA", "ok", f"{torch.cuda.device_count()} device(s): {names}"))
    else:
        checks.append(Check("CUDA", "warn", "no CUDA device: inference and training run on the CPU"))
    return checks


def _torchvision() -> list[Check]:
    import torchvision
    from torchvision.ops import nms

    del nms
    return [Check("torchvision", "ok", f"{torchvision.__version__} (RoIAlign, NMS ops loaded)", True)]


def _timm() -> list[Check]:
    import timm

    return [Check("timm", "ok", timm.__version__, True)]


def cuda_major(requirements: Iterable[str]) -> int | None:
    """The CUDA major version a wheel was built for, read off its requirements (``Requires-Dist`` lines).

    NVIDIA's library wheels carry it as a suffix (``nvidia-cudnn-cu12``) or, from CUDA 13 on, as the version of
    the unsuffixed runtime (``nvidia-cuda-runtime~=13.0``, ``cuda-toolkit[cudart]==13.0.3``). None when the
    requirements name no CUDA wheel, or name two majors.
    """
    majors = set()
    for requirement in requirements:
        name = re.match(r"\s*([A-Za-z0-9._-]*)", requirement).group(1).lower().replace("_", "-")
        if suffix := re.search(r"-cu(\d+)$", name):
            majors.add(int(suffix.group(1)))
        elif name in ("nvidia-cuda-runtime", "cuda-toolkit") and (version := re.search(r"[=~]=\s*(\d+)", requirement)):
            majors.add(int(version.group(1)))
    return majors.pop() if len(majors) == 1 else None


def _onnxruntime_cuda_major() -> int | None:
    """The CUDA major version of the installed onnxruntime-gpu: its build info, else its wheel's requirements."""
    try:
        from onnxruntime.capi.build_and_package_info import cuda_version  # only GPU builds define it

        return int(str(cuda_version).split(".")[0])
    except (ImportError, ValueError):
        pass
    try:
        return cuda_major(metadata.requires("onnxruntime-gpu") or [])
    except metadata.PackageNotFoundError:
        return None


def cuda_mismatch(onnxruntime_cuda: int | None, torch_cuda: str | None) -> str | None:
    """Why ONNX Runtime's CUDA provider cannot share torch's CUDA libraries, or None when the majors agree.

    Args:
        onnxruntime_cuda: the CUDA major version onnxruntime-gpu was built for (None: unknown).
        torch_cuda: ``torch.version.cuda`` ("13.0"; None for a CPU build of torch).
    """
    if onnxruntime_cuda is None or not torch_cuda or int(torch_cuda.split(".")[0]) == onnxruntime_cuda:
        return None
    return (f"onnxruntime-gpu is built for CUDA {onnxruntime_cuda}, torch for CUDA {torch_cuda}: the CUDA provider "
            f"needs onnxruntime-gpu's CUDA {torch_cuda.split('.')[0]} build (the gpu extra with constraints.txt, "
            "docs/installation.md)")


def _onnxruntime() -> list[Check]:
    import onnxruntime as ort
    import torch

    providers = ort.get_available_providers()
    status: Status = "ok" if "CUDAExecutionProvider" in providers else "warn"
    detail = f"{ort.__version__}; providers: {', '.join(providers)}"
    if status == "warn":
        detail += " (CPU only; for CUDA install the gpu extra)"
    elif mismatch := cuda_mismatch(_onnxruntime_cuda_major(), torch.version.cuda):
        status, detail = "warn", f"{detail}; {mismatch}"
    return [Check("onnxruntime", status, detail)]


def _openvino() -> list[Check]:
    import openvino as ov

    core = ov.Core()
    devices = [f"{d} ({core.get_property(d, 'FULL_DEVICE_NAME')})" for d in core.available_devices]
    return [Check("OpenVINO", "ok", f"{ov.get_version().split('-')[0]}; devices: {', '.join(devices) or 'none'} "
                  "(--backend openvino)")]


def _pyav() -> list[Check]:
    import av

    codecs = av.codecs_available
    wanted = ["libx264", "h264", "aac"]
    have = [c for c in wanted if c in codecs]
    status: Status = "ok" if len(have) == len(wanted) else "warn"
    return [Check("PyAV", status, f"{av.__version__}; codecs: {', '.join(have) or 'none of ' + ', '.join(wanted)}")]


def _qt() -> list[Check]:
    import PySide6
    from PySide6 import QtCore

    return [Check("Qt (PySide6)", "ok", f"PySide6 {PySide6.__version__}, Qt {QtCore.qVersion()}")]


def _inplace_abn() -> list[Check]:
    import inplace_abn  # noqa: F401

    version = getattr(inplace_abn, "__version__", "installed")
    return [Check("inplace_abn", "ok", f"{version} (--norm iabn available for training)")]


_PROBES: list[tuple[str, Callable[[], list[Check]], bool]] = [
    ("torch", _torch, True),
    ("torchvision", _torchvision, True),
    ("timm", _timm, True),
    ("onnxruntime", _onnxruntime, False),
    ("OpenVINO", _openvino, False),
    ("PyAV", _pyav, False),
    ("Qt (PySide6)", _qt, False),
    ("inplace_abn", _inplace_abn, False),
]


def run_checks() -> list[Check]:
    """Probe everything; a probe that fails to import reports 'missing' with the reason."""
    checks = [Check("python", "ok", f"{platform.python_version()} on {platform.machine()}")]
    for name, probe, required in _PROBES:
        try:
            checks.extend(probe())
        except Exception as err:  # ImportError, or a broken native library
            reason = " ".join(str(err).split())[:120] or type(err).__name__
            checks.append(Check(name, "missing", f"not usable: {reason}", required))
    return checks
