"""Where ``segment`` writes: resolves ``-o`` for the source kind, refuses to overwrite, builds the sinks.

* Images: ``-o DIR`` (default ``runs/segment/predictN/``) gets overlays under the images' relative names,
  plus ``panoptic.json`` + ``panoptic/`` and ``predictions.jsonl`` when asked for.
* Video and live sources: ``-o out.mp4`` (``.mkv``, ``.mov``, ``.m4v``) or ``-o DIR`` (then ``DIR/STEM.mp4``);
  ``STEM_panoptic.json`` + ``STEM_panoptic/`` and ``STEM.jsonl`` go next to the video.
* The default run folder also gets ``args.yaml`` with the command's arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from efficientps_app.errors import EfficientPSError, SourceError
from efficientps_app.outputs.video_writer import CONTAINERS

if TYPE_CHECKING:
    from efficientps_app.inference.predictor import Predictor
    from efficientps_app.outputs.sinks import Sink
    from efficientps_app.sources.frames import Source

RUNS_DIR = Path("runs/segment")


@dataclass
class OutputPlan:
    """Where the outputs go (``root``: the folder that receives them) and the sinks that write them."""

    root: Path
    sinks: list[Sink]


def next_run_dir(base: Path = RUNS_DIR, name: str = "predict") -> Path:
    """``base/predict``, then ``predict2``, ``predict3``, ... (the first that does not exist)."""
    taken = {p.name for p in base.glob(f"{name}*")} if base.is_dir() else set()
    if name not in taken:
        return base / name
    numbers = [int(m.group(1)) for p in taken if (m := re.fullmatch(rf"{re.escape(name)}(\d+)", p))]
    return base / f"{name}{max(numbers, default=1) + 1}"


def _stem(source: Source) -> str:
    if source.kind == "live":
        return re.sub(r"[^A-Za-z0-9_-]+", "_", source.name).strip("_") or "stream"
    return Path(source.name).stem


def plan_outputs(
    source: Source,
    output: Path | None,
    predictor: Predictor,
    *,
    save_panoptic: bool,
    save_json: bool,
    audio: bool,
    crf: int,
    overwrite: bool,
    arguments: dict,
) -> OutputPlan:
    """Decide every output path, check them, and build the sinks.

    Raises:
        EfficientPSError: an output exists (without ``overwrite``) or ``-o`` does not fit the source.
    """
    from efficientps_app.outputs.sinks import ImageSink, JsonlSink, PanopticSink, VideoSink

    run_dir = output is None
    root = next_run_dir() if run_dir else output
    classes = predictor.classes
    sinks: list[Sink] = []
    if source.kind == "images":
        if root.suffix.lower() in CONTAINERS:
            raise EfficientPSError(f"-o {output}: image sources write overlay images into a folder, not a video")
        if root.exists() and not root.is_dir():
            raise EfficientPSError(f"-o {output}: exists and is not a folder")
        images = ImageSink(root)
        targets = [images.target(rel) for rel in source.relative]
        sinks.append(images)
        side = root / "panoptic.json", root / "predictions.jsonl"
    else:
        if root.suffix:
            if root.suffix.lower() not in CONTAINERS:
                raise SourceError(f"-o {output}: unsupported video container (use {', '.join(CONTAINERS)})")
            video_path = root
        else:
            video_path = root / f"{_stem(source)}.mp4"
        fps = getattr(source, "fps", None)
        audio_from = getattr(source, "path", None) if audio else None
        sinks.append(VideoSink(video_path, fps, audio_from, crf))
        targets = [video_path]
        stem = video_path.with_suffix("")
        side = stem.parent / f"{stem.name}_panoptic.json", stem.with_suffix(".jsonl")
    if save_panoptic:
        sinks.append(PanopticSink(side[0], classes))
        targets += [side[0], side[0].with_suffix("")]
    if save_json:
        sinks.append(JsonlSink(side[1], classes))
        targets.append(side[1])
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise EfficientPSError(f"{existing[0]}{more} already exist(s); pass --overwrite to replace")
    if run_dir:
        root.mkdir(parents=True, exist_ok=True)
        (root / "args.yaml").write_text(yaml.safe_dump(arguments, sort_keys=False))
    return OutputPlan(root=root if source.kind == "images" else targets[0].parent, sinks=sinks)
