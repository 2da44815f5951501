"""The efficientps ONNX format: what an exported ``.onnx`` file carries besides the graph, and how its
outputs become :class:`~model.outputs.RawOutputs`.

The file carries everything needed to run it, as ONNX metadata: the model config (classes, palette,
thresholds, normalisation), the input size or "dynamic", the batch size, the precision, the versions it
was exported with, and the provenance of the weights (:data:`CARRIED`: what they were trained on or imported
from, so that the demo weights are recognised in an export too). The normalisation itself is inside the
graph: inputs are RGB in [0, 1]. The outputs are :class:`~model.outputs.DetectionSlots` (format version 2;
version 1 returned variable-length detections, which OpenVINO and TensorRT cannot run on a frame without
detections).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from efficientps_app.errors import EfficientPSError, WeightsError
from model.config import EfficientPSConfig, config_from_dict
from model.outputs import DetectionSlots, RawOutputs
from model.weights import WeightsFileError, parse_size

ONNX_FORMAT, ONNX_FORMAT_VERSION = "efficientps-onnx", "2"
OUTPUT_NAMES = list(DetectionSlots._fields)
CARRIED = ("trained_on", "provenance", "release", "imported_from")  # weights-header entries an export keeps


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """Our metadata of an exported model.

    Raises:
        WeightsError: not a readable ONNX file, an ONNX model not exported by efficientps, or one exported
            in another version of the format.
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
    version = meta.get("format_version")
    if version != ONNX_FORMAT_VERSION:
        raise WeightsError(f"{path}: efficientps ONNX format version {version!r}, this efficientps reads version "
                           f"{ONNX_FORMAT_VERSION!r}; re-export it with 'efficientps export-onnx'")
    return meta


@dataclass(frozen=True)
class ExportedModel:
    """What the metadata of an exported model says about running it.

    Attributes:
        config: the model config.
        input_size: fixed (H, W), or None for a dynamic model.
        preferred_size: (H, W) the weights were made for, or None.
        batch: the fixed batch size.
        precision: "fp32" or "fp16" (the weights and compute inside the graph).
        trained_on: carried over from the weights it was exported from.
    """

    config: EfficientPSConfig
    input_size: tuple[int, int] | None
    preferred_size: tuple[int, int] | None
    batch: int
    precision: str
    trained_on: str | None

    @classmethod
    def read(cls, path: Path) -> ExportedModel:
        """Raises: WeightsError (see :func:`read_onnx_metadata`, or metadata that does not parse)."""
        meta = read_onnx_metadata(path)
        try:
            config = config_from_dict(json.loads(meta["config"]))
        except (KeyError, ValueError, TypeError) as err:
            raise WeightsError(f"{path}: invalid model config in the ONNX metadata ({err})") from None
        try:
            fixed = None if meta.get("input") == "dynamic" else parse_size(meta.get("input"), f"{path}: input")
            preferred = parse_size(meta.get("preferred_size"), f"{path}: preferred_size")
        except WeightsFileError as err:
            raise WeightsError(str(err)) from None
        return cls(config, fixed, preferred, int(meta.get("batch", "1")), meta.get("precision", "fp32"),
                   meta.get("trained_on"))

    def run_batches(self, images: torch.Tensor, run: Callable[[torch.Tensor], list[torch.Tensor]]) -> RawOutputs:
        """Run (N, 3, H, W) images through a runtime in batches of the model's size and join the valid slots.

        Args:
            images: float RGB in [0, 1].
            run: one fixed-size batch -> the graph's outputs in :data:`OUTPUT_NAMES` order (CPU tensors).

        Raises:
            EfficientPSError: the images do not have the model's fixed input size.
        """
        if self.input_size is not None and tuple(images.shape[-2:]) != self.input_size:
            raise EfficientPSError(f"this ONNX model takes {self.input_size[0]}x{self.input_size[1]} images, "
                                   f"got {images.shape[-2]}x{images.shape[-1]}")
        parts = []
        for start in range(0, images.shape[0], self.batch):
            chunk = images[start : start + self.batch]
            real = chunk.shape[0]
            if real < self.batch:  # pad with copies of the last image, drop their outputs afterwards
                chunk = torch.cat([chunk, chunk[-1:].expand(self.batch - real, -1, -1, -1)])
            raw = DetectionSlots(*(t[:real] for t in run(chunk.float().contiguous()))).to_raw()
            parts.append(raw._replace(batch_index=raw.batch_index + start))
        return RawOutputs(*(torch.cat([p[i] for p in parts]) for i in range(len(RawOutputs._fields))))
