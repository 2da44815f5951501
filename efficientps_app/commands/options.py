"""Options shared by several commands, declared once (same flag, type, default and help everywhere)."""

from __future__ import annotations

from typing import Annotated

import typer

DEVICE_HELP = "auto, cpu, cuda, cuda:N or N."  # what model.device.parse_device reads
DeviceOpt = Annotated[str, typer.Option("--device", help=DEVICE_HELP)]
HalfOpt = Annotated[bool, typer.Option("--half", help="fp16 inference (CUDA only).")]
ImgszOpt = Annotated[int | None, typer.Option("--imgsz", help="Inference size: longer side in pixels.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")]
WeightsOpt = Annotated[str | None, typer.Option("--weights", "-w", help="A .safetensors (train, import-weights) or "
                                                ".onnx (export-onnx) model, or fetched weights by name (cityscapes, "
                                                "kitti: see 'weights list'). Default: the bundled demo weights.")]
