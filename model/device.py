"""The one reading of ``--device`` for every command and backend: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or a
bare GPU index ``N``.

:func:`parse_device` checks the spelling only (ONNX Runtime may have CUDA where torch has not);
:func:`torch_device` also checks that torch can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

DEVICE_SPELLINGS = "auto, cpu, cuda, cuda:N or N"


class DeviceError(ValueError):
    """A ``--device`` value that is not a device name, or names a device this machine does not have."""


@dataclass(frozen=True)
class DeviceRequest:
    """What the user asked for: ``kind`` and, for ``cuda:N`` or ``N``, the GPU ``index``."""

    kind: Literal["auto", "cpu", "cuda"]
    index: int | None = None


def parse_device(text: str) -> DeviceRequest:
    """Read a ``--device`` value.

    Raises:
        DeviceError: not one of auto, cpu, cuda, cuda:N or N.
    """
    name = str(text).strip().lower()
    if name in ("auto", "cpu", "cuda"):
        return DeviceRequest(name)  # type: ignore[arg-type]
    index = name.removeprefix("cuda:")
    if index.isdigit() and (index != name or name.isdigit()):
        return DeviceRequest("cuda", int(index))
    raise DeviceError(f"--device {text!r}: expected {DEVICE_SPELLINGS}")


def torch_device(text: str, local_rank: int = 0) -> torch.device:
    """The torch device for a ``--device`` value; ``auto`` is CUDA (GPU ``local_rank``) when available.

    Raises:
        DeviceError: a bad spelling, or CUDA asked for and not available (or not that many GPUs).
    """
    request = parse_device(text)
    if request.kind == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if request.kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"--device {text}: CUDA is not available here (CPU-only torch or no GPU); use --device cpu")
    if request.index is not None and request.index >= torch.cuda.device_count():
        raise DeviceError(f"--device {text}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device("cuda" if request.index is None else f"cuda:{request.index}")
