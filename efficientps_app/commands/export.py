"""``efficientps export-onnx``: the network as an ONNX model that ONNX Runtime runs end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from efficientps_app.commands.options import DEVICE_HELP, OverwriteOpt
from efficientps_app.console import stderr
from efficientps_app.errors import EXIT_ERROR, EfficientPSError, OutputError

PARITY_TARGET = 0.995


def export_onnx(
    weights: Annotated[str, typer.Option("--weights", "-w", help="The .safetensors model to export, or a fetched "
                                         "name (cityscapes, kitti).")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Default: WEIGHTS with .onnx "
                                                "(efficientps_NAME.onnx here for a fetched name).")] = None,
    imgsz: Annotated[tuple[int, int] | None, typer.Option("--imgsz", metavar="H W",
                                                          help="Fixed input size H W.")] = None,
    dynamic: Annotated[bool, typer.Option("--dynamic", help="Any input size (the default without --imgsz).")] = False,
    opset: Annotated[int, typer.Option("--opset", min=11, max=21, help="ONNX opset.")] = 17,
    half: Annotated[bool, typer.Option("--half", help="fp16 weights and compute for CUDA (fp32 in/out).")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per run (fixed in the graph).")] = 1,
    device: Annotated[str, typer.Option("--device", help=f"Where to trace ({DEVICE_HELP[:-1]}); cuda for --half.")] = "cpu",
    parity: Annotated[bool, typer.Option("--parity/--no-parity", help="Compare with PyTorch after export.")] = True,
    overwrite: OverwriteOpt = False,
) -> int:
    """Export a model to ONNX (detections in fixed slots; the fusion runs outside, shared with PyTorch) and
    check its parity in ONNX Runtime (and OpenVINO when installed)."""
    from efficientps_app.errors import WeightsError
    from efficientps_app.inference.export import ExportSpec, export_onnx as export
    from efficientps_app.outputs.files import refuse_existing
    from efficientps_app.weights.cache import is_catalogue_name, resolve_weights
    from model.device import torch_device
    from model.weights import WeightsFileError, load_model, preferred_size, read_metadata, size_text

    if imgsz is not None and dynamic:
        raise EfficientPSError("give --imgsz H W or --dynamic, not both")
    path = resolve_weights(weights)
    out = output or (Path(path.name) if is_catalogue_name(weights) else path).with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise OutputError(f"-o {out}: the output must end in .onnx")
    refuse_existing([out], overwrite)
    dev = torch_device(device)
    try:
        model, preferred = load_model(path, device=dev), preferred_size(path)
    except WeightsFileError as err:
        raise WeightsError(str(err)) from None
    spec = ExportSpec(imgsz=tuple(imgsz) if imgsz else None, batch=batch, opset=opset, half=half)
    with stderr.status(f"exporting {path.name} to ONNX (opset {opset})"):
        export(model, out, spec, source=str(path), preferred_size=preferred, weights_meta=read_metadata(path))
    size_mb = out.stat().st_size / 2**20
    stderr.print(f"saved {out} ({size_mb:.1f} MiB; input {'dynamic' if spec.imgsz is None else size_text(spec.imgsz)}, "
                 f"batch {batch}, {'fp16' if half else 'fp32'}); onnx.checker passed", markup=False)
    if not parity:
        return 0
    return _parity(model, out, "cuda" if half else "cpu")


def _parity(model, path: Path, device: str) -> int:
    """Compare PyTorch with ONNX Runtime (and OpenVINO when it is installed and the model is fp32) on two
    images; print a table, save ``MODEL.parity.json`` ({backend: {image: ...}}); exit 1 below the target."""
    import numpy as np

    from efficientps_app.inference.onnx_backend import OnnxBackend
    from efficientps_app.inference.parity import parity_report
    from efficientps_app.outputs.files import write_text_atomic
    from train.synth import render_scene

    backends = [OnnxBackend(path, device)]
    if _has_openvino() and backends[0].precision == "fp32":
        from efficientps_app.inference.openvino_backend import OpenVinoBackend

        backends.append(OpenVinoBackend(path, "cpu"))
    h, w = backends[0].input_size or (256, 512)
    images = {"random image": np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8),
              "synthetic street": render_scene(h, w, seed=7)[0]}
    with stderr.status("checking parity with PyTorch"):
        report = {b.name: parity_report(model, b, images) for b in backends}
    table = Table(title="PyTorch vs " + ", ".join(b.note for b in backends), title_justify="left")
    for col in ("backend", "image", "size", "max |Δ sem logits|", "detections (torch/backend/matched)",
                "panoptic agreement"):
        table.add_column(col, justify="left" if col in ("backend", "image") else "right")
    for backend, rows in report.items():
        for name, r in rows.items():
            table.add_row(backend, name, "x".join(map(str, r["size"])), f"{r['sem_logits_max_abs_diff']:.2e}",
                          f"{r['detections_torch']}/{r['detections_backend']}/{r['detections_matched']}",
                          f"{100 * r['panoptic_pixel_agreement']:.3f} %")
    stderr.print(table)
    report_path = write_text_atomic(path.with_suffix(".parity.json"), json.dumps(report, indent=2))
    worst = min(r["panoptic_pixel_agreement"] for rows in report.values() for r in rows.values())
    stderr.print(f"parity: lowest panoptic agreement {100 * worst:.3f} % (target {100 * PARITY_TARGET:.1f} %); "
                 f"report saved to {report_path}", markup=False)
    if worst < PARITY_TARGET:
        stderr.print(f"[bold red]error:[/] panoptic agreement {100 * worst:.2f} % is below the "
                     f"{100 * PARITY_TARGET:.1f} % target; the model was saved, but check the report")
        return EXIT_ERROR
    return 0


def _has_openvino() -> bool:
    from importlib.util import find_spec

    return find_spec("openvino") is not None
