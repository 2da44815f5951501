"""``efficientps data synth`` and ``efficientps data prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
data_app = typer.Typer(help="Prepare a Cityscapes folder, or write a synthetic one in the same layout.",
                       no_args_is_help=True)


@data_app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the dataset into (Cityscapes layout).")],
    train: Annotated[int, typer.Option("--train", min=0, help="Training images.")] = 40,
    val: Annotated[int, typer.Option("--val", min=0, help="Validation images.")] = 10,
    size: Annotated[tuple[int, int], typer.Option("--size", help="Image height and width.")] = (256, 512),
    seed: Annotated[int, typer.Option("--seed", help="Scenes are deterministic for a seed.")] = 0,
) -> int:
    """Write procedural street scenes with Cityscapes files: leftImg8bit, gtFine labelIds/instanceIds/color/polygons."""
    from train.synth import write_synthetic_cityscapes

    if min(size) < 64:
        raise typer.BadParameter("images must be at least 64x64", param_hint="--size")
    with Progress(console=stderr, transient=True) as progress:
        task = progress.add_task("writing scenes", total=train + val)
        write_synthetic_cityscapes(out_dir, train, val, size, seed, progress=lambda: progress.advance(task))
    stderr.print(f"wrote {train} train + {val} val scenes of {size[0]}x{size[1]} to {out_dir}; "
                 f"next: efficientps data prepare {out_dir}")
    return 0


@data_app.command("prepare")
def prepare(
    root: Annotated[Path, typer.Argument(help="Cityscapes root with leftImg8bit/ and gtFine/.")],
    split: Annotated[list[str], typer.Option("--split", help="Splits to prepare (repeatable).")] = ["train", "val"],  # noqa: B006
    force: Annotated[bool, typer.Option("--force", help="Rewrite the panoptic ground truth even if complete.")] = False,
) -> int:
    """Check the dataset and write the panoptic ground truth (cityscapesscripts' createPanopticImgs). Idempotent."""
    from train.prepare import prepare_dataset

    with stderr.status("checking and converting"):
        prepare_dataset(root, tuple(split), force=force, status=stderr.print)
    return 0
