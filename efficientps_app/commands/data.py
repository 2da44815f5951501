"""``efficientps data synth``, ``data synth-video``, ``data prepare`` and ``data convert``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from efficientps_app.commands.help import Command, Group
from efficientps_app.commands.options import OverwriteOpt
from efficientps_app.console import stderr

data_app = typer.Typer(cls=Group, help="Prepare or convert a dataset folder (Cityscapes, COCO panoptic, KITTI "
                       "panoptic), or write a synthetic one.", no_args_is_help=True)


@data_app.command("synth", cls=Command)
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the dataset into.")],
    train: Annotated[int, typer.Option("--train", min=0, help="Training images.")] = 40,
    val: Annotated[int, typer.Option("--val", min=0, help="Validation images.")] = 10,
    size: Annotated[tuple[int, int], typer.Option("--size", metavar="H W",
                                                  help="Image height and width.")] = (256, 512),
    seed: Annotated[int, typer.Option("--seed", help="Scenes are deterministic for a seed.")] = 0,
    data_format: Annotated[str, typer.Option("--format", help="cityscapes or coco-panoptic.")] = "cityscapes",
    classes: Annotated[str | None, typer.Option("--classes", metavar="STUFF:THINGS", help=(
        "coco-panoptic only: a class list of its own, e.g. sky,sea,sand,grass,rock:boat,buoy,swimmer or 5:3 "
        "(a world of shapes); without it, street scenes with the Cityscapes classes."))] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="coco-panoptic: replace splits that exist.")] = False,
) -> int:
    """Write synthetic scenes: street scenes in the Cityscapes layout (leftImg8bit, gtFine labelIds/instanceIds/
    color/polygons), or a COCO panoptic dataset, with the Cityscapes classes or a class list of its own."""
    from efficientps_app.errors import EfficientPSError

    if min(size) < 64:
        raise typer.BadParameter("images must be at least 64x64", param_hint="--size")
    if data_format not in ("cityscapes", "coco-panoptic"):
        raise typer.BadParameter(f"{data_format!r}: expected cityscapes or coco-panoptic", param_hint="--format")
    if classes is not None and data_format != "coco-panoptic":
        raise EfficientPSError("--classes makes a COCO panoptic dataset: add --format coco-panoptic")
    from train.synth import write_synthetic_cityscapes
    from train.synth_coco import parse_classes, write_synthetic_coco

    try:
        names = None if classes is None else parse_classes(classes)
    except ValueError as err:
        raise EfficientPSError(str(err)) from err
    with Progress(console=stderr, transient=True) as progress:
        task = progress.add_task("writing scenes", total=train + val)
        advance = lambda: progress.advance(task)  # noqa: E731
        if data_format == "cityscapes":
            write_synthetic_cityscapes(out_dir, train, val, size, seed, progress=advance)
        else:
            write_synthetic_coco(out_dir, train, val, size, seed, names, overwrite, progress=advance)
    kind = "scenes" if classes is None else f"shapes-world images ({classes})"
    stderr.print(f"wrote {train} train + {val} val {kind} of {size[0]}x{size[1]} to {out_dir}; "
                 f"next: efficientps data prepare {out_dir}", markup=False)
    return 0


@data_app.command("prepare", cls=Command)
def prepare(
    root: Annotated[Path, typer.Argument(help="Cityscapes root (leftImg8bit/, gtFine/) or COCO panoptic root.")],
    split: Annotated[list[str], typer.Option("--split", help="Splits to prepare (repeatable).")] = ["train", "val"],  # noqa: B006
    force: Annotated[bool, typer.Option("--force", help="Rewrite the panoptic ground truth even if complete.")] = False,
) -> int:
    """Check the dataset; for Cityscapes, write the panoptic ground truth (cityscapesscripts' createPanopticImgs).
    Idempotent."""
    from train.prepare import prepare_dataset

    with stderr.status("checking and converting"):
        prepare_dataset(root, tuple(split), force=force, status=stderr.print)
    return 0


@data_app.command("synth-video", cls=Command)
def synth_video(
    output: Annotated[Path, typer.Argument(help="The .mp4 to write.")],
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, max=600, help="Length.")] = 10.0,
    fps: Annotated[int, typer.Option("--fps", min=1, max=120, help="Frames per second.")] = 15,
    size: Annotated[tuple[int, int], typer.Option("--size", metavar="H W",
                                                  help="Frame height and width (even).")] = (256, 512),
    seed: Annotated[int, typer.Option("--seed", help="The drive is deterministic for a seed.")] = 0,
    crf: Annotated[int, typer.Option("--crf", min=0, max=51, help="H.264 quality.")] = 23,
    ground_truth: Annotated[bool, typer.Option(
        "--ground-truth", help="Also write the video panoptic ground truth of every frame: STEM_gt.json + STEM_gt/ "
        "(for evaluate-video).")] = False,
    overwrite: OverwriteOpt = False,
) -> int:
    """Write a synthetic drive through the synthetic streets (H.264 + AAC engine hum) to try 'segment' on."""
    from efficientps_app.errors import OutputError
    from efficientps_app.outputs.files import refuse_existing
    from train.synth_video import write_synthetic_drive
    from train.video_panoptic import ground_truth_paths

    if output.suffix.lower() != ".mp4":
        raise OutputError(f"{output}: the drive is written as .mp4")
    if min(size) < 64 or size[0] % 2 or size[1] % 2:
        raise typer.BadParameter("frames must be at least 64x64 with even sides", param_hint="--size")
    targets = [output, *(ground_truth_paths(output) if ground_truth else ())]
    refuse_existing(targets, overwrite)
    with stderr.status(f"rendering {int(round(seconds * fps))} frames"):
        write_synthetic_drive(output, seconds, fps, tuple(size), seed, crf, ground_truth=ground_truth)
    stderr.print(f"wrote {output} ({seconds:g} s at {fps} fps, {size[0]}x{size[1]}, with audio)", markup=False)
    if ground_truth:
        gt_json, gt_dir = ground_truth_paths(output)
        seg = output.with_name(f"{output.stem}_segmented.mp4")
        stderr.print(f"wrote its ground truth {gt_json} + {gt_dir}/; next: efficientps segment {output} -o {seg} "
                     f"--save-panoptic, then efficientps evaluate-video --gt {gt_json} --predictions "
                     f"{seg.with_name(seg.stem + '_panoptic.json')}", markup=False)
    else:
        stderr.print(f"next: efficientps segment {output}", markup=False)
    return 0


@data_app.command("convert", cls=Command)
def convert(
    src: Annotated[Path, typer.Argument(help="Cityscapes root, or the KITTI panoptic dataset's root.")],
    dst: Annotated[Path, typer.Argument(help="Folder for the COCO panoptic dataset.")],
    source: Annotated[str, typer.Option("--from", help="auto, cityscapes or kitti-panoptic.")] = "auto",
    split: Annotated[list[str], typer.Option("--split", help="Splits to convert (repeatable).")] = [  # noqa: B006
        "train", "val"],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace splits that exist in DST.")] = False,
) -> int:
    """Write a COCO panoptic copy (images hard-linked where possible) with the Cityscapes classes."""
    from train.convert import convert_dataset

    with stderr.status("converting") as status:
        done = [0]

        def advance() -> None:
            done[0] += 1
            status.update(f"converting: {done[0]} images")

        written = convert_dataset(src, dst, source, tuple(split), overwrite, progress=advance)
    stderr.print(f"wrote {', '.join(str(p) for p in written)}; next: efficientps train --data {dst}", markup=False)
    return 0
