"""The efficientps ONNX format: what an exported ``.onnx`` file carries besides the graph.

The file carries everything needed to run it, as ONNX metadata: the model config (classes, palette,
thresholds, normalisation), the input size or "dynamic", the batch size, the precision, the versions it
was exported with, and the provenance of the weights (:data:`CARRIED`: what they were trained on or imported
from, so that the demo weights are recognised in an export too). The normalisation itself is inside the
graph: inputs are RGB in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

from efficientps_app.errors import WeightsError
from model.outputs import RawOutputs

ONNX_FORMAT, ONNX_FORMAT_VERSION = "efficientps-onnx", "1"
OUTPUT_NAMES = list(RawOutputs._fields)
CARRIED = ("trained_on", "provenance", "release", "imported_from")  # weights-header entries an export keeps


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
