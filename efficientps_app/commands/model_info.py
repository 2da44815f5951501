"""``efficientps model-info``: a model's modules and parameter counts (a preset, a weights file or an ONNX model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from efficientps_app.console import stdout
from efficientps_app.errors import EXIT_OK, WeightsError


def model_info(
    model: Annotated[str, typer.Argument(help="A preset name (see the list below), a .safetensors or an .onnx file, "
                                         "or a fetched name (cityscapes, kitti).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> int:
    """Show a model's modules and parameter counts.

    Presets: b5-cityscapes (official code), b5-paper (separable FPN convs), b0-b4, b6, b7, tiny.
    """
    from efficientps_app.weights.cache import resolve_weights
    from model import PRESETS, build_efficientps
    from model.weights import load_config

    model = model if model in PRESETS else str(resolve_weights(model))
    if model in PRESETS:
        cfg, source = PRESETS[model], f"preset {model}"
    elif Path(model).suffix == ".onnx":  # an exported model: the config and the export facts are its metadata
        from efficientps_app.inference.onnx_format import read_onnx_metadata
        from model.config import config_from_dict

        meta = read_onnx_metadata(Path(model))
        cfg = config_from_dict(json.loads(meta["config"]))
        source = (f"{model} (ONNX: input {meta.get('input')}, batch {meta.get('batch')}, {meta.get('precision')}, "
                  f"opset {meta.get('opset')}, torch {meta.get('torch_version')})")
    elif Path(model).suffix == ".safetensors" or Path(model).exists():
        cfg, source = load_config(model), str(model)
    else:
        raise WeightsError(f"unknown preset or weights file {model!r}; presets: {', '.join(PRESETS)}")
    net = build_efficientps(cfg)
    rows = [
        ("backbone", f"EfficientNet-{cfg.backbone.variant} (no SE, {cfg.norm} + LeakyReLU)", net.backbone),
        ("fpn", "2-way FPN, " + ("separable" if cfg.fpn.separable_output else "plain") + " 3x3 outputs", net.fpn),
        ("semantic_head", "LSFE + DPC + MC", net.semantic_head),
        ("rpn", f"RPN, {len(cfg.instance.anchor_ratios)} anchors/location on P4-P32", net.rpn),
        ("roi_heads.box_head", f"2 x FC-{cfg.instance.fc_channels}", net.roi_heads.box_head),
        ("roi_heads.mask_head", "4 separable convs + deconv, 28x28", net.roi_heads.mask_head),
    ]
    counts = [(name, desc, sum(p.numel() for p in mod.parameters())) for name, desc, mod in rows]
    total = sum(p.numel() for p in net.parameters())
    if as_json:
        typer.echo(json.dumps({"source": source, "modules": {n: c for n, _, c in counts}, "total": total}, indent=2))
        return EXIT_OK
    table = Table(title=f"{source}: {cfg.num_classes} classes ({cfg.num_stuff} stuff, {cfg.num_things} things)",
                  title_justify="left")
    table.add_column("module")
    table.add_column("structure")
    table.add_column("parameters", justify="right")
    for name, desc, n in counts:
        table.add_row(name, desc, f"{n:,}")
    table.add_row("[bold]total[/]", "", f"[bold]{total:,}[/] ({total / 1e6:.2f} M)")
    stdout.print(table)
    return EXIT_OK
