"""``efficientps evaluate-video``: STQ (AQ, SQ), VPQ over windows of k frames, id switches of a video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from efficientps_app.console import stderr, stdout
from efficientps_app.outputs.files import write_text_atomic


def video_table(results: dict) -> Table:
    """STQ, AQ, SQ; VPQ per window (All / Things / Stuff); id switches and recovered tracks."""
    table = Table(title_justify="left", show_header=True)
    table.add_column("metric")
    for col in ("All", "Things", "Stuff"):
        table.add_column(col, justify="right")
    table.add_row("STQ", f"{100 * results['stq']:.1f}", "", "")
    table.add_row("  AQ", "", f"{100 * results['aq']:.1f}", "")
    table.add_row("  SQ (mIoU)", f"{100 * results['sq']:.1f}", "", "")
    table.add_section()
    for k, groups in results["vpq"].items():
        cells = ["-" if groups is None else f"{100 * groups[g]['pq']:.1f}" for g in ("All", "Things", "Stuff")]
        table.add_row(f"VPQ k={k}", *cells)
    mean = results["vpq_mean"]
    table.add_row("[bold]VPQ[/]", *(f"[bold]{100 * mean[g]:.1f}[/]" for g in ("All", "Things", "Stuff")))
    table.add_section()
    table.add_row("id switches / 100 objects", "", f"{results['id_switches_per_100']:.1f}", "")
    table.add_row("id switches", "", str(results["id_switches"]), "")
    table.add_row("objects: seen / tracked / recovered", "",
                  f"{results['gt_tracks']} / {results['tracked_objects']} / {results['recovered_tracks']}", "")
    return table


def evaluate_video(
    gt: Annotated[Path, typer.Option("--gt", help="Video ground truth STEM_gt.json "
                                     "(data synth-video --ground-truth).")],
    predictions: Annotated[Path, typer.Option("--predictions", help="PRED.json of 'segment VIDEO --save-panoptic' "
                                              "(PNGs in PRED/).")],
    output: Annotated[Path | None, typer.Option("--json", help="Where to write the results JSON.")] = None,
) -> int:
    """Score a video's panoptic predictions (with track ids) against its video ground truth: STQ, VPQ, id switches."""
    from train.video_panoptic import evaluate_video_files

    with Progress(console=stderr, transient=True) as progress:
        task = progress.add_task("scoring frames", total=None)
        results = evaluate_video_files(gt, predictions, progress=lambda: progress.advance(task))
    stdout.print(video_table(results))
    stderr.print(f"{results['frames']} of {results['gt_frames']} ground-truth frames scored")
    out = output or Path("runs/evaluate") / f"{predictions.stem}_video.json"
    write_text_atomic(out, json.dumps(results, indent=2, sort_keys=True, default=float))
    stderr.print(f"results written to {out}")
    return 0
