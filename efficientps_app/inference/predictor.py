"""The Python API: ``Predictor(weights).predict(image)`` and ``Predictor.stream(source)``.

The predictor owns the device, the inference resolution and the filters; the backend only runs the
network. Panoptic fusion is the shared pure function of :mod:`model.fusion`, run on the backend's raw
outputs. Results always come back at the source image's resolution.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from efficientps_app.errors import EfficientPSError
from efficientps_app.inference.backends import RawModel, load_backend
from efficientps_app.inference.smoothing import StuffSmoother
from efficientps_app.inference.tracking import Tracker, class_groups
from efficientps_app.sources.dispatch import open_source
from efficientps_app.sources.frames import Frame, Source
from efficientps_app.threads import prefetch
from efficientps_app.timings import Timings
from model.classes import ClassSpec
from model.fusion import describe_segments, fuse_panoptic
from model.outputs import PanopticResult, RawOutputs


@dataclass(frozen=True)
class Prediction:
    """One frame and its result; ``track_ids`` maps thing segment ids to ids stable over the video."""

    frame: Frame
    result: PanopticResult
    track_ids: dict[int, int] | None = None


class Predictor:
    """EfficientPS inference on numpy images.

    Args:
        weights: a ``.safetensors`` file written by this tool (train, import-weights).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``N``.
        half: fp16 on CUDA (ignored with a note on CPU).
        imgsz: run the network with the longer image side scaled to this many pixels.
        scale: or scale the image by this factor (``imgsz`` and ``scale`` are exclusive).
        conf: minimum detection score for thing instances (default: the model's).
        classes: keep only these classes (names or train ids); everything else becomes void.
        batch: frames per forward pass in :meth:`stream`.
        backend: ``auto`` (from the weights file: ``.safetensors`` PyTorch, ``.onnx`` ONNX Runtime),
            ``torch`` or ``onnx``.
        threads: CPU threads for inference (default: the library's choice, one per core).
    """

    def __init__(
        self,
        weights: str | Path,
        device: str = "auto",
        half: bool = False,
        imgsz: int | None = None,
        scale: float | None = None,
        conf: float | None = None,
        classes: Sequence[str | int] | None = None,
        batch: int = 1,
        backend: str = "auto",
        threads: int | None = None,
    ) -> None:
        if imgsz is not None and scale is not None:
            raise EfficientPSError("give --imgsz or --scale, not both")
        if imgsz is not None and imgsz < 32:
            raise EfficientPSError(f"--imgsz must be at least 32, got {imgsz}")
        if scale is not None and not 0 < scale <= 8:
            raise EfficientPSError(f"--scale must be in (0, 8], got {scale}")
        if conf is not None and not 0 <= conf <= 1:
            raise EfficientPSError(f"--conf must be in [0, 1], got {conf}")
        if batch < 1:
            raise EfficientPSError(f"--batch must be >= 1, got {batch}")
        if threads is not None and threads < 1:
            raise EfficientPSError(f"--threads must be >= 1, got {threads}")
        if threads is not None:
            torch.set_num_threads(threads)
        self.backend: RawModel = load_backend(weights, device, half, conf, backend, threads)
        self.device = self.backend.device
        self.notes: list[str] = []
        if half and self.backend.name == "torch" and self.device.type != "cuda":
            self.notes.append("--half needs CUDA; running in fp32 on the CPU")
        if half and self.backend.name == "onnx":
            self.notes.append("--half is a property of an ONNX model: export it with 'export-onnx --half'")
        fixed = self.backend.input_size
        if fixed is not None and (imgsz is not None or scale is not None):
            self.notes.append(f"this ONNX model has a fixed input of {fixed[0]}x{fixed[1]}: --imgsz/--scale ignored")
        self.config = self.backend.config
        self.classes: tuple[ClassSpec, ...] = self.config.classes
        self.imgsz, self.scale, self.conf, self.batch = imgsz, scale, conf, batch
        self.keep = None if classes is None else _class_ids(classes, self.classes)
        self.timings = Timings()

    def predict(self, image: np.ndarray) -> PanopticResult:
        """Panoptic segmentation of one (H, W, 3) uint8 RGB image, at its resolution."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: list[np.ndarray]) -> list[PanopticResult]:
        """Images of the same size run as one batch; others one by one."""
        results: list[PanopticResult | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            _check_image(image)
            groups.setdefault(image.shape, []).append(i)
        for shape, idx in groups.items():
            for i, result in zip(idx, self._run([images[i] for i in idx], shape[:2])):
                results[i] = result
        self.timings.frames += len(images)
        return results  # type: ignore[return-value]

    def inference_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) the network sees of a source of this size (a fixed-size model: the largest size
        with the source's aspect that fits; the rest of its input is padding)."""
        fixed = self.backend.input_size
        if fixed is not None:
            f = min(fixed[0] / height, fixed[1] / width)
            return min(max(round(height * f), 1), fixed[0]), min(max(round(width * f), 1), fixed[1])
        preferred = self.backend.preferred_size
        if self.imgsz is not None:
            f = self.imgsz / max(height, width)
        elif self.scale is not None:
            f = self.scale
        elif preferred is not None:  # the size the model was made for, keeping the source's aspect
            f = min(preferred[0] / height, preferred[1] / width)
        else:
            return height, width
        return max(int(round(height * f)), 1), max(int(round(width * f)), 1)

    def _run(self, images: list[np.ndarray], size: tuple[int, int]) -> list[PanopticResult]:
        t0 = time.perf_counter()
        batch = torch.from_numpy(np.stack(images)).to(self.device).permute(0, 3, 1, 2).float().div_(255)
        target = self.inference_size(*size)
        if target != size:
            batch = F.interpolate(batch, size=target, mode="bilinear", align_corners=False,
                                  antialias=target[0] < size[0]).clamp_(0, 1)
        fixed = self.backend.input_size
        if fixed is not None and target != fixed:  # pad with the mean colour (zero after normalisation)
            mean = torch.tensor(self.config.pixel_mean, device=batch.device).view(1, 3, 1, 1) / 255
            canvas = mean.expand(batch.shape[0], 3, *fixed).clone()
            canvas[..., : target[0], : target[1]] = batch
            batch = canvas
        t1 = time.perf_counter()
        raw = self.backend(batch)
        if fixed is not None and target != fixed:
            raw = _crop_raw(raw, target)
        _sync(self.device)
        t2 = time.perf_counter()
        results = [self._fuse(raw, i, size) for i in range(len(images))]
        self.timings.add("preprocess", t1 - t0)
        self.timings.add("inference", t2 - t1)
        self.timings.add("fusion", time.perf_counter() - t2)
        return results

    def _fuse(self, raw: RawOutputs, index: int, size: tuple[int, int]) -> PanopticResult:
        sel = raw.batch_index == index
        if self.conf is not None:
            sel &= raw.scores >= self.conf
        result = fuse_panoptic(raw.sem_logits[index], raw.boxes[sel], raw.labels[sel], raw.scores[sel],
                               raw.mask_logits[sel], self.config.fusion, self.config.num_stuff)
        if self.keep is not None:
            result = keep_classes(result, self.keep)
        if tuple(result.panoptic.shape) != size:
            result = resize_result(result, size)
        return result

    def tracker(self) -> Tracker:
        """A tracker for this model's classes (car, truck, bus and train match each other, and so on)."""
        return Tracker(groups=class_groups(self.classes))

    def stream(self, source: Source | str | Path | int, track: bool | None = None, smooth_stuff: bool = False,
               **source_options) -> Iterator[Prediction]:
        """Predictions for every frame of a source, lazily (nothing accumulates).

        Args:
            source: an opened :class:`~efficientps_app.sources.frames.Source` or anything :func:`open_source` takes
                (then ``source_options`` go to it and the source is closed at the end).
            track: give thing instances track ids, and each tracked instance its track's class (default:
                for video and live sources).
            smooth_stuff: smooth the stuff classes over time (:mod:`efficientps_app.inference.smoothing`; video only).
        """
        if isinstance(source, (str, Path, int)):
            with open_source(source, **source_options) as opened:
                yield from self.stream(opened, track, smooth_stuff)
            return
        video = source.kind != "images"
        tracker = self.tracker() if (track if track is not None else video) else None
        smoother = StuffSmoother(self.config.num_stuff) if smooth_stuff and video else None
        frames: list[Frame] = []
        for frame in prefetch(source, self.timings):
            frames.append(frame)
            if len(frames) < self.batch:
                continue
            yield from self._predict_frames(frames, tracker, smoother)
            frames = []
        if frames:
            yield from self._predict_frames(frames, tracker, smoother)

    def _predict_frames(self, frames: list[Frame], tracker: Tracker | None,
                        smoother: StuffSmoother | None) -> Iterator[Prediction]:
        for frame, result in zip(frames, self.predict_batch([f.image for f in frames])):
            if smoother is not None:
                result = smoother.update(frame.image, result)
            track_ids = None
            if tracker is not None:
                result, track_ids = tracker.track(result)
            yield Prediction(frame, result, track_ids)


def _crop_raw(raw: RawOutputs, size: tuple[int, int]) -> RawOutputs:
    """Raw outputs of a padded input cut back to the image area (H, W)."""
    h, w = size
    keep = (raw.boxes[:, 0] < w) & (raw.boxes[:, 1] < h)  # boxes reaching into the padding are clipped when pasted
    return RawOutputs(raw.sem_logits[..., :h, :w], raw.boxes[keep], raw.scores[keep], raw.labels[keep],
                      raw.mask_logits[keep], raw.batch_index[keep])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise EfficientPSError(f"expected an (H, W, 3) uint8 RGB image, got {got}")
    if min(image.shape[:2]) < 8:
        raise EfficientPSError(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small to segment")


def _class_ids(wanted: Sequence[str | int], classes: tuple[ClassSpec, ...]) -> frozenset[int]:
    by_name = {c.name: c.train_id for c in classes}
    ids = set()
    for item in wanted:
        text = str(item).strip().lower()
        if text.isdigit() and int(text) < len(classes):
            ids.add(int(text))
        elif text in by_name:
            ids.add(by_name[text])
        else:
            names = ", ".join(c.name for c in classes)
            raise EfficientPSError(f"--classes: unknown class {item!r} (this model has: {names})")
    return frozenset(ids)


def keep_classes(result: PanopticResult, keep: frozenset[int]) -> PanopticResult:
    """The result with segments of other classes turned into void (0); ids are unchanged."""
    kept = tuple(s for s in result.segments if s.category_id in keep)
    if len(kept) == len(result.segments):
        return result
    lut = torch.zeros(max((s.id for s in result.segments), default=0) + 1, dtype=result.panoptic.dtype,
                      device=result.panoptic.device)
    for s in kept:
        lut[s.id] = s.id
    return PanopticResult(lut[result.panoptic.long()], kept, result.semantic)


def resize_result(result: PanopticResult, size: tuple[int, int]) -> PanopticResult:
    """Nearest-neighbour resize of a result to (H, W), with areas and boxes recomputed (and segments that
    vanish dropped). Segment ids are renumbered 1..K in their order."""
    pan = F.interpolate(result.panoptic[None, None].float(), size=size, mode="nearest-exact")[0, 0].long()
    sem = F.interpolate(result.semantic[None, None].float(), size=size, mode="nearest-exact")[0, 0].long()
    lut = torch.zeros(max((s.id for s in result.segments), default=0) + 1, dtype=torch.long, device=pan.device)
    for new_id, seg in enumerate(result.segments, start=1):
        lut[seg.id] = new_id
    pan = lut[pan].int()
    info = [(s.category_id, s.is_thing, s.score) for s in result.segments]
    segments = tuple(s for s in describe_segments(pan, info) if s.area > 0)
    return PanopticResult(pan, segments, sem)
