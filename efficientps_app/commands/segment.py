"""``efficientps segment``: panoptic overlays (and COCO panoptic / JSONL) for images, video and streams.

Exit codes: 0 done; 1 error; 3 done, but some input images could not be read (they are listed).
Several sources that are not all image files (with ``-o``), ``--shard``, torchrun or ``--skip-existing`` start a
collection run (:mod:`efficientps_app.collection`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from efficientps_app.commands.options import DeviceOpt, HalfOpt, ImgszOpt, WeightsOpt
from efficientps_app.console import print_notes, stderr
from efficientps_app.errors import EXIT_INTERRUPTED, EXIT_PARTIAL, EfficientPSError, OutputError, SourceError
from efficientps_app.outputs.plan import plan_outputs

if TYPE_CHECKING:
    from efficientps_app.outputs.render import RenderOptions
    from efficientps_app.sharding import Shard

Opt = typer.Option


def segment(
    source: Annotated[list[str], typer.Argument(help="Image, folder, glob, .txt list, video file, webcam index or "
                                                "stream URL; or several image files; several files or folders "
                                                "with -o DIR: a collection run (docs/cli.md).",
                                                show_default=False)],
    output: Annotated[Path | None, Opt("-o", "--output", help="out.mp4/.mkv for video; a folder for images. "
                                       "Default: runs/segment/predictN/.")] = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    half: HalfOpt = False,
    imgsz: ImgszOpt = None,
    scale: Annotated[float | None, Opt("--scale", help="Inference size: factor of the source size.")] = None,
    conf: Annotated[float | None, Opt("--conf", help="Minimum score of thing instances.")] = None,
    classes: Annotated[list[str] | None, Opt("--classes", help="Keep only these classes (names or ids; "
                                             "repeat or comma-separate).")] = None,
    batch: Annotated[int, Opt("--batch", min=1, help="Frames per forward pass.")] = 1,
    backend: Annotated[str, Opt("--backend", help="auto (from the weights file), torch, onnx, or openvino "
                                "(an .onnx in OpenVINO).")] = "auto",
    threads: Annotated[int | None, Opt("--threads", min=1, help="CPU threads for inference.")] = None,
    recursive: Annotated[bool, Opt("--recursive", "-r", help="Folders: include sub-folders.")] = False,
    vid_stride: Annotated[int, Opt("--vid-stride", min=1, help="Video: every N-th frame.")] = 1,
    start: Annotated[float | None, Opt("--start", min=0, help="Video: start time in seconds.")] = None,
    end: Annotated[float | None, Opt("--end", min=0, help="Video: end time in seconds.")] = None,
    max_frames: Annotated[int | None, Opt("--max-frames", min=1, help="Stop after N frames.")] = None,
    stream_buffer: Annotated[bool, Opt("--stream-buffer", help="Live sources: keep every frame "
                                       "(default: only the latest).")] = False,
    crf: Annotated[int, Opt("--crf", min=0, max=51, help="H.264 quality (lower = better, bigger).")] = 20,
    no_audio: Annotated[bool, Opt("--no-audio", help="Video: leave the source's audio out.")] = False,
    save_panoptic: Annotated[bool, Opt("--save-panoptic", help="Also write COCO panoptic PNGs + JSON.")] = False,
    save_json: Annotated[bool, Opt("--save-json", help="Also write one JSON line of segments per frame.")] = False,
    smooth_stuff: Annotated[bool, Opt("--smooth-stuff", help="Video: smooth stuff classes over time (flow-warped "
                                      "vote; see docs/video.md).")] = False,
    alpha: Annotated[float, Opt("--alpha", min=0.0, max=1.0, help="Overlay opacity.")] = 0.5,
    side_by_side: Annotated[bool, Opt("--side-by-side", help="Source left, overlay right.")] = False,
    no_labels: Annotated[bool, Opt("--no-labels", help="No class/score text.")] = False,
    no_contours: Annotated[bool, Opt("--no-contours", help="No instance outlines.")] = False,
    no_legend: Annotated[bool, Opt("--no-legend", help="No legend.")] = False,
    save_semantic: Annotated[bool, Opt("--save-semantic", help="Also write semantic PNGs per frame (trainIds, "
                                       "labelIds, colour).")] = False,
    masks: Annotated[str, Opt("--masks", help="--save-json: each segment's pixels as none or rle (COCO "
                              "compressed RLE).")] = "none",
    save_crops: Annotated[bool, Opt("--save-crops", help="Also write a crop of every thing instance.")] = False,
    shard: Annotated[str | None, Opt("--shard", help="Collection run: segment only shard i/N of the files "
                                     "(torchrun sets it from its rank).", metavar="i/N")] = None,
    skip_existing: Annotated[bool, Opt("--skip-existing", help="Collection run: leave out the files the output "
                                       "folder's manifest records as done.")] = False,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace existing outputs.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> int:
    """Segment images, folders, videos, webcams or streams; write overlays (and optionally COCO panoptic/JSONL).

    Exit codes: 0 done, 1 error, 2 usage error, 3 done but some images (collection runs: files) could not be
    read, 130 interrupted.
    """
    arguments = _arguments(dict(locals()))
    from efficientps_app.sharding import current_shard

    wanted = [c for item in classes or [] for c in item.split(",") if c.strip()] or None
    render = dict(alpha=alpha, contours=not no_contours, labels=not no_labels, legend=not no_legend,
                  side_by_side=side_by_side)
    split = current_shard(shard)
    if split.torchrun or shard is not None or skip_existing or (output is not None and _several_files(source)):
        from efficientps_app.outputs.render import RenderOptions

        return _collection(arguments, split, wanted, RenderOptions(**render))
    from efficientps_app.assets import announce_demo, default_weights
    from efficientps_app.pipeline import run_pipeline
    from efficientps_app.progress import FrameProgress, print_summary
    from efficientps_app.sources.dispatch import open_source

    with open_source(source, recursive=recursive, stream_buffer=stream_buffer, vid_stride=vid_stride,
                     start=start, end=end) as src:
        plan = plan_outputs(src, output, save_panoptic=save_panoptic, save_json=save_json, masks=masks,
                            save_semantic=save_semantic, save_crops=save_crops, audio=not no_audio, crf=crf,
                            overwrite=overwrite)
        from efficientps_app.inference.predictor import Predictor  # torch: only once input and outputs are fine
        from efficientps_app.outputs.render import RenderOptions

        options = RenderOptions(**render)
        predictor = Predictor(weights or default_weights(), device=device, half=half, imgsz=imgsz, scale=scale,
                              conf=conf, classes=wanted, batch=batch, backend=backend, threads=threads)
        announce_demo(predictor.backend.trained_on, src.name, quiet)
        print_notes(predictor.notes)
        if not quiet:
            stderr.print(f"segmenting {src.name} with {predictor.backend.note} -> {plan.root}", markup=False)
        total = src.total if max_frames is None or src.total is None else min(src.total, max_frames)
        with FrameProgress(total, disabled=quiet) as progress:
            summary = run_pipeline(predictor, src, plan.start(predictor.classes, arguments), options,
                                   max_frames=max_frames, on_frame=progress.advance, smooth_stuff=smooth_stuff)
    if not quiet or summary.interrupted:
        print_summary(summary, predictor.timings)
    if summary.interrupted:
        return EXIT_INTERRUPTED  # after the outputs were finalised and listed
    if summary.frames == 0:
        if src.kind == "images":
            raise EfficientPSError(f"none of the {len(summary.failures)} images could be read")
        raise EfficientPSError(f"{src.name}: no frames to segment (check --start, --end and the file)")
    return EXIT_PARTIAL if src.kind == "images" and summary.failures else 0


def _arguments(params: dict) -> dict:
    """The command's parameters as YAML-friendly values (for ``args.yaml``; one source as a string)."""
    if len(params["source"]) == 1:
        params["source"] = params["source"][0]
    return {k: str(v) if isinstance(v, Path) else v for k, v in params.items()}


def _several_files(source: list[str]) -> bool:
    """Several sources that are not all image files (those are one image source): a collection run."""
    from efficientps_app.sources.dispatch import image_files

    if len(source) < 2:
        return False
    try:
        image_files(source)
    except SourceError:
        return True
    return False


def _collection(a: dict, split: Shard, wanted: list[str] | None, options: RenderOptions) -> int:
    """Several files, ``--shard``, torchrun or ``--skip-existing``: the collection run (docs/cli.md)."""
    from efficientps_app.assets import default_weights
    from efficientps_app.collection import CollectionRequest, run_collection

    if a["output"] is None:
        raise OutputError("a collection run (--shard, torchrun or --skip-existing) needs -o OUT_DIR")
    sources = a["source"] if isinstance(a["source"], list) else [a["source"]]
    request = CollectionRequest(
        tuple(sources), Path(a["output"]), split, skip_existing=a["skip_existing"], overwrite=a["overwrite"],
        recursive=a["recursive"], open_args={k: a[k] for k in ("vid_stride", "start", "end")},
        plan_args={"save_panoptic": a["save_panoptic"], "save_json": a["save_json"], "masks": a["masks"],
                   "save_semantic": a["save_semantic"], "save_crops": a["save_crops"], "audio": not a["no_audio"],
                   "crf": a["crf"]},
        predictor_args={"weights": a["weights"] or default_weights(), "device": a["device"], "half": a["half"],
                        "imgsz": a["imgsz"], "scale": a["scale"], "conf": a["conf"], "classes": wanted,
                        "batch": a["batch"], "backend": a["backend"], "threads": a["threads"]},
        max_frames=a["max_frames"], smooth_stuff=a["smooth_stuff"], quiet=a["quiet"])
    return run_collection(request, options)
