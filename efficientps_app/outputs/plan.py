"""Where ``segment`` writes: resolves ``-o`` for the source kind and refuses to overwrite, before the model is
loaded; the plan then builds the sinks.

* Images: ``-o DIR`` (default ``runs/segment/predictN/``) gets overlays under the images' relative names,
  plus ``panoptic.json`` + ``panoptic/`` and ``predictions.jsonl`` when asked for (a collection run, one image
  per plan: ``STEM_panoptic.json`` + ``STEM_panoptic/`` and ``STEM.jsonl``), ``semantic/`` and ``crops/``.
* Video and live sources: ``-o out.mp4`` (``.mkv``, ``.mov``, ``.m4v``) or ``-o DIR`` (then ``DIR/STEM.mp4``);
  ``STEM_panoptic.json`` + ``STEM_panoptic/``, ``STEM.jsonl``, ``STEM_semantic/`` and ``STEM_crops/`` go next
  to the video.
* The default run folder also gets ``args.yaml`` with the command's arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from efficientps_app.errors import OutputError
from efficientps_app.outputs.exports import existing_crops, semantic_paths
from efficientps_app.outputs.files import refuse_existing, write_text_atomic
from efficientps_app.outputs.video_writer import CONTAINERS

if TYPE_CHECKING:
    from efficientps_app.outputs.sinks import Sink
    from efficientps_app.sources.frames import Source
    from model.classes import ClassSpec

RUNS_DIR = Path("runs/segment")
MASK_FORMATS = ("none", "rle")  # how --save-json writes each segment's pixels


@dataclass(frozen=True)
class OutputPlan:
    """Every output path of a run, checked; :meth:`start` makes the writers once the model is loaded.

    Attributes:
        root: The folder that receives the outputs (for display).
        images: Folder of overlay images (image sources), or None.
        video: The overlay video (video and live sources), or None.
        panoptic: COCO panoptic JSON (its PNGs go into the folder of the same stem), or None.
        jsonl: JSON lines of segments, or None.
        masks: How the JSON lines hold each segment's pixels: ``none`` or ``rle`` (COCO compressed RLE).
        semantic: Folder of semantic PNGs (trainIds, labelIds, colour per frame), or None.
        crops: Folder of thing-instance crops (one sub-folder per class), or None.
        fps, audio_from, crf: How the video is written.
        arguments_file: ``args.yaml`` of a default run folder, or None.
    """

    root: Path
    images: Path | None = None
    video: Path | None = None
    panoptic: Path | None = None
    jsonl: Path | None = None
    masks: str = "none"
    semantic: Path | None = None
    crops: Path | None = None
    fps: float | None = None
    audio_from: Path | None = None
    crf: int = 20
    arguments_file: Path | None = None

    def start(self, classes: tuple[ClassSpec, ...], arguments: dict) -> list[Sink]:
        """The sinks of the run (for a model with these classes); writes ``arguments_file``."""
        from efficientps_app.outputs.exports import CropSink, SemanticSink
        from efficientps_app.outputs.sinks import ImageSink, JsonlSink, PanopticSink, VideoSink

        if self.arguments_file is not None:
            write_text_atomic(self.arguments_file, yaml.safe_dump(arguments, sort_keys=False))
        sinks: list[Sink] = []
        if self.images is not None:
            sinks.append(ImageSink(self.images))
        if self.video is not None:
            sinks.append(VideoSink(self.video, self.fps, self.audio_from, self.crf))
        if self.panoptic is not None:
            sinks.append(PanopticSink(self.panoptic, classes))
        if self.jsonl is not None:
            sinks.append(JsonlSink(self.jsonl, classes, rle=self.masks == "rle"))
        if self.semantic is not None:
            sinks.append(SemanticSink(self.semantic, classes))
        if self.crops is not None:
            sinks.append(CropSink(self.crops, classes))
        return sinks


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
    *,
    save_panoptic: bool,
    save_json: bool,
    audio: bool,
    crf: int,
    overwrite: bool,
    masks: str = "none",
    save_semantic: bool = False,
    save_crops: bool = False,
    stem: str | None = None,
) -> OutputPlan:
    """Decide every output path and check them (before any model is loaded).

    Args:
        stem: image sources of a collection run (one image per plan): name the JSON outputs after this stem
            instead of ``panoptic.json`` and ``predictions.jsonl`` (so that the images of a folder do not share
            them).

    Raises:
        OutputError: an output exists (without ``overwrite``) or ``-o`` does not fit the source.
    """
    if masks not in MASK_FORMATS:
        raise OutputError(f"--masks {masks}: expected one of {', '.join(MASK_FORMATS)}")
    if masks != "none" and not save_json:
        raise OutputError(f"--masks {masks} goes with --save-json (the masks are written into the JSON lines)")
    run_dir = output is None
    root = next_run_dir() if run_dir else output
    if source.kind == "images":
        if root.suffix.lower() in CONTAINERS:
            raise OutputError(f"-o {output}: image sources write overlay images into a folder, not a video")
        if root.exists() and not root.is_dir():
            raise OutputError(f"-o {output}: exists and is not a folder")
        plan = OutputPlan(root, images=root)
        targets = [root / rel for rel in source.relative]
        side = (root / "panoptic.json", root / "predictions.jsonl") if stem is None else \
            (root / f"{stem}_panoptic.json", root / f"{stem}.jsonl")
        extra = root / "semantic", root / "crops"
        frame_stems = [str(Path(rel).with_suffix("")) for rel in source.relative]
    else:
        if root.suffix and root.suffix.lower() not in CONTAINERS:
            raise OutputError(f"-o {output}: unsupported video container (use {', '.join(CONTAINERS)})")
        video = root if root.suffix else root / f"{_stem(source)}.mp4"
        plan = OutputPlan(video.parent, video=video, fps=getattr(source, "fps", None), crf=crf,
                          audio_from=getattr(source, "path", None) if audio else None)
        targets = [video]
        side = video.with_name(f"{video.stem}_panoptic.json"), video.with_suffix(".jsonl")
        extra = video.with_name(f"{video.stem}_semantic"), video.with_name(f"{video.stem}_crops")
        frame_stems = None  # the folders are the video's own
    if save_panoptic:
        plan = replace(plan, panoptic=side[0])
        targets += [side[0], side[0].with_suffix("")]
    if save_json:
        plan = replace(plan, jsonl=side[1], masks=masks)
        targets.append(side[1])
    if save_semantic:
        plan = replace(plan, semantic=extra[0])
        targets += [extra[0]] if frame_stems is None else [p for s in frame_stems for p in semantic_paths(extra[0], s)]
    if save_crops:
        plan = replace(plan, crops=extra[1])
        targets += [extra[1]] if frame_stems is None else [p for s in frame_stems for p in existing_crops(extra[1], s)]
    refuse_existing(targets, overwrite)
    return replace(plan, arguments_file=root / "args.yaml") if run_dir else plan
