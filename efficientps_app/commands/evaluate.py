"""``efficientps evaluate``: PQ/SQ/RQ (All/Things/Stuff), per-class PQ and IoU, mIoU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from efficientps_app.commands.options import DeviceOpt, HalfOpt, ImgszOpt
from efficientps_app.console import print_notes, stderr, stdout
from efficientps_app.errors import EfficientPSError


def results_table(results: dict) -> Table:
    """The table cityscapesscripts prints, with an IoU column."""
    names = {int(k): v for k, v in results["names"].items()}
    table = Table(title_justify="left")
    for col in ("category", "PQ", "SQ", "RQ", "IoU"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for cat, values in sorted(results["per_class"].items(), key=lambda kv: int(kv[0])):
        iou = results["iou_per_class"].get(cat)
        table.add_row(names[int(cat)], *(f"{100 * values[k]:.1f}" for k in ("pq", "sq", "rq")),
                      "-" if iou is None else f"{100 * iou:.1f}")
    table.add_section()
    for group in ("All", "Things", "Stuff"):
        r = results[group]
        table.add_row(f"[bold]{group}[/] (N={r['n']})", *(f"[bold]{100 * r[k]:.1f}[/]" for k in ("pq", "sq", "rq")),
                      f"[bold]{100 * results['miou']:.1f}[/]" if group == "All" else "")
    return table


def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Dataset root: Cityscapes (see 'efficientps data prepare') "
                                       "or COCO panoptic.")],
    weights: Annotated[str | None, typer.Option("--weights", help="A .safetensors or .onnx model to run on the "
                                                "split, exactly as 'segment' runs it, or fetched weights by name "
                                                "(cityscapes, kitti).")] = None,
    predictions: Annotated[Path | None, typer.Option("--predictions", help="COCO panoptic PRED.json (PNGs in PRED/).")] = None,
    split: Annotated[str, typer.Option("--split")] = "val",
    data_format: Annotated[str, typer.Option("--format", help="auto, cityscapes or coco-panoptic.")] = "auto",
    device: DeviceOpt = "auto",
    half: HalfOpt = False,
    imgsz: ImgszOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N images (weights only).")] = None,
    output: Annotated[Path | None, typer.Option("--json", help="Where to write the results JSON.")] = None,
) -> int:
    """Score a model (--weights) or predictions on disk (--predictions) on a split, with the COCO panoptic
    rules over the dataset's categories."""
    from efficientps_app.outputs.files import write_text_atomic
    from train.datasets import describe_classes, open_split, same_classes
    from train.evaluate import evaluate_files, evaluate_predictions

    if (weights is None) == (predictions is None):
        raise EfficientPSError("give exactly one of --weights or --predictions")
    dataset = open_split(data, split, data_format)
    with Progress(console=stderr, transient=True) as progress:
        if predictions is not None:
            if not dataset.gt_json.is_file():
                raise EfficientPSError(f"{dataset.gt_json}: no panoptic ground truth; "
                                       f"run 'efficientps data prepare {data}'")
            task = progress.add_task("scoring", total=None)
            results = evaluate_files(predictions, dataset.gt_json, progress=lambda: progress.advance(task))
            source = predictions
        else:
            from efficientps_app.inference.predictor import Predictor

            predictor = Predictor(weights, device=device, half=half, imgsz=imgsz)
            if not same_classes(predictor.classes, dataset.classes):
                raise EfficientPSError(f"{weights} predicts {describe_classes(predictor.classes)}; {data} has "
                                       f"{describe_classes(dataset.classes)}: evaluate a model trained on these classes")
            print_notes(predictor.notes)
            samples = dataset.samples[:limit]
            task = progress.add_task(f"evaluating {len(samples)} images", total=len(samples))
            results = evaluate_predictions(predictor.predict, samples, dataset.classes,
                                           progress=lambda: progress.advance(task))
            source = weights
    stdout.print(results_table(results))
    out = write_text_atomic(output or Path("runs/evaluate") / f"{Path(source).stem}_{split}.json",
                            json.dumps(results, indent=2, sort_keys=True, default=float))
    stderr.print(f"results written to {out}")
    return 0
