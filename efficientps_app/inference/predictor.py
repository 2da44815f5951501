"""The Python API: ``Predictor(weights).predict(image)`` and ``Predictor.stream(source)``.

The predictor owns the device, the inference resolution and the filters; the backend only runs the
network. Panoptic fusion is the shared pure function of :mod:`model.fusion`, run on the backend's raw
outputs. Results always come back at the source image's resolution, on the CPU (one copy per batch).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from efficientps_app.errors import EfficientPSError
from efficientps_app.inference.backends import RawModel, load_backend
from efficientps_app.inference.smoothing import StuffSmoother
from efficientps_app.inference.tracking import Tracker, class_groups, tracks
from efficientps_app.sources.dispatch import open_source
from efficientps_app.sources.frames import Frame, Source, read_ahead
from efficientps_app.threads import prefetch
from efficientps_app.timings import Stage, Timings
from model.classes import ClassSpec
from model.fusion import fuse_panoptic
from model.outputs import PanopticResult, RawOutputs, results_to_cpu, select_segments
from model.transform import InferenceTransform


@dataclass(frozen=True)
class Prediction:
    """One frame and its result; ``track_ids`` maps thing segment ids to ids stable over the video."""

    frame: Frame
    result: PanopticResult
    track_ids: dict[int, int] | None = None


class Predictor:
    """EfficientPS inference on numpy images.

    Args:
        weights: a ``.safetensors`` file written by this tool (train, import-weights), an ``.onnx`` export, or
            the name of fetched weights (``cityscapes``, ``kitti``: ``efficientps weights fetch``).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``N``.
        half: fp16 where the backend can (PyTorch on CUDA; an ONNX model is what it was exported as); what
            runs is ``precision``, and ``notes`` says when it differs.
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
        self.device, self.precision = self.backend.device, self.backend.precision  # the backend's decisions
        self.notes: list[str] = list(self.backend.notes)
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
        self.timings.count(len(images))
        return results  # type: ignore[return-value]

    def transform(self, height: int, width: int) -> InferenceTransform:
        """How an image of (height, width) goes through the network: resized to the inference size (and
        letterboxed into a fixed-size model), its result brought back to (height, width)."""
        return InferenceTransform.plan((height, width), self.config.pixel_mean, imgsz=self.imgsz, scale=self.scale,
                                       preferred=self.backend.preferred_size, fixed=self.backend.input_size)

    def inference_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) the network sees of a source of this size (a fixed-size model: the largest size
        with the source's aspect that fits; the rest of its input is padding)."""
        return self.transform(height, width).size

    def _run(self, images: list[np.ndarray], size: tuple[int, int]) -> list[PanopticResult]:
        t0 = time.perf_counter()
        transform = self.transform(*size)
        batch = transform.to_batch(images, self.device)
        t1 = time.perf_counter()
        raw = transform.crop(self.backend(batch))
        _sync(self.device)
        t2 = time.perf_counter()
        results = results_to_cpu([transform.restore(self._fuse(raw, i)) for i in range(len(images))])
        self.timings.add(Stage.PREPROCESS, t1 - t0)
        self.timings.add(Stage.INFERENCE, t2 - t1)
        self.timings.add(Stage.FUSION, time.perf_counter() - t2)
        return results

    def _fuse(self, raw: RawOutputs, index: int) -> PanopticResult:
        sel = raw.batch_index == index
        if self.conf is not None:
            sel &= raw.scores >= self.conf
        result = fuse_panoptic(raw.sem_logits[index], raw.boxes[sel], raw.labels[sel], raw.scores[sel],
                               raw.mask_logits[sel], self.config.fusion, self.config.num_stuff)
        return result if self.keep is None else keep_classes(result, self.keep)

    def tracker(self) -> Tracker:
        """A tracker for this model's classes (car, truck, bus and train match each other, and so on)."""
        return Tracker(groups=class_groups(self.classes))

    def stream(self, source: Source | str | Path | int | Sequence[str | Path], track: bool | None = None,
               smooth_stuff: bool = False, **source_options) -> Iterator[Prediction]:
        """Predictions for every frame of a source, lazily (nothing accumulates).

        Args:
            source: an opened :class:`~efficientps_app.sources.frames.Source` or anything :func:`open_source` takes
                (then ``source_options`` go to it and the source is closed at the end).
            track: give thing instances track ids, and each tracked instance its track's class (default:
                for video and live sources).
            smooth_stuff: smooth the stuff classes over time (:mod:`efficientps_app.inference.smoothing`; video only).
        """
        if isinstance(source, (str, Path, int, list, tuple)):
            with open_source(source, **source_options) as opened:
                yield from self.stream(opened, track, smooth_stuff)
            return
        video = tracks(source.kind)
        tracker = self.tracker() if (track if track is not None else video) else None
        smoother = StuffSmoother(self.config.num_stuff) if smooth_stuff and video else None
        frames: list[Frame] = []
        for frame in prefetch(source, self.timings, read_ahead(source.kind)):
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
                result, track_ids = tracker.track(result, frame.meta.timestamp_s)
            yield Prediction(frame, result, track_ids)


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
    """The result with segments of other classes turned into void (0), renumbered 1..K'."""
    return select_segments(result, [s.category_id in keep for s in result.segments])
