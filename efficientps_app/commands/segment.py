"""``efficientps segment``: panoptic overlays (and COCO panoptic / JSONL) for images, video and streams.

Exit codes: 0 done; 1 error; 3 done, but some input images could not be read (they are listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from efficientps_app.commands.options import DeviceOpt, HalfOpt, ImgszOpt, WeightsOpt
from efficientps_app.console import print_notes, stderr
from efficientps_app.errors import EXIT_INTERRUPTED, EXIT_PARTIAL, EfficientPSError
from efficientps_app.outputs.plan import plan_outputs

Opt = typer.Option


def segment(
    source: Annotated[list[str], typer.Argument(help="Image, folder, glob, .txt list, video file, webcam index or "
                                                "stream URL; or several image files.", show_default=False)],
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
    backend: Annotated[str, Opt("--backend", help="auto (from the weights file), torch or onnx.")] = "auto",
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
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace existing outputs.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> int:
    """Segment images, folders, videos, webcams or streams; write overlays (and optionally COCO panoptic/JSONL).

    Exit codes: 0 done, 1 error, 2 usage error, 3 done but some images could not be read, 130 interrupted.
    """
    arguments = _arguments(dict(locals()))
    from efficientps_app.assets import announce_demo, default_weights
    from efficientps_app.pipeline import run_pipeline
    from efficientps_app.progress import FrameProgress, print_summary
    from efficientps_app.sources.dispatch import open_source

    wanted = [c for item in classes or [] for c in item.split(",") if c.strip()] or None
    with open_source(source, recursive=recursive, stream_buffer=stream_buffer, vid_stride=vid_stride,
                     start=start, end=end) as src:
        plan = plan_outputs(src, output, save_panoptic=save_panoptic, save_json=save_json,
                            audio=not no_audio, crf=crf, overwrite=overwrite)
        from efficientps_app.inference.predictor import Predictor  # torch: only once input and outputs are fine
        from efficientps_app.outputs.render import RenderOptions

        options = RenderOptions(alpha=alpha, contours=not no_contours, labels=not no_labels, legend=not no_legend,
                                side_by_side=side_by_side)
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
