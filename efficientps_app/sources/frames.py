"""The frame types every stage uses: :class:`Frame`, its :class:`FrameMeta`, and the :class:`Source` protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

import numpy as np

SourceKind = Literal["images", "video", "live"]
FILE_READ_AHEAD = 8  # frames of image and video files decoded ahead of the model
FALLBACK_FPS = 30.0  # the frame rate assumed for a source that does not say


def frame_rate(fps: float | None) -> float:
    """A source's frame rate, or :data:`FALLBACK_FPS` when it has none."""
    return fps if fps and fps > 0 else FALLBACK_FPS


@dataclass(frozen=True)
class FrameMeta:
    """Where a frame comes from.

    Attributes:
        index: Position of the frame in its source, 0-based: the image's place in the list; for a video file,
            its presentation time from the start of the stream times the nominal frame rate, rounded (the
            decoded frame number of a constant-rate video, whatever ``--start`` and ``--vid-stride`` skip;
            the viewer seeks by it); for a live source, the number of frames read before it.
        source_name: The image path, video path or stream address.
        timestamp_s: Presentation time in seconds (video: from the stream's pts; live: since the start).
        fps: The source's nominal frame rate, when it has one.
        pts: Presentation timestamp in ``time_base`` units (video files), for exact output timing.
        time_base: Unit of ``pts``.
        relative_path: For image sources, the path below the folder or list it came from (output names).
    """

    index: int
    source_name: str
    timestamp_s: float | None = None
    fps: float | None = None
    pts: int | None = None
    time_base: Fraction | None = None
    relative_path: str | None = None


@dataclass(frozen=True)
class Frame:
    """One input image. ``image`` is (H, W, 3) uint8 RGB."""

    image: np.ndarray
    meta: FrameMeta


class Source(Protocol):
    """What the predictor and the pipeline iterate over."""

    kind: SourceKind
    name: str
    total: int | None  # number of frames when known in advance
    failures: list[str]  # "item: reason" for each skipped item

    def __iter__(self) -> Iterator[Frame]: ...
    def __enter__(self) -> Source: ...
    def __exit__(self, *exc: object) -> None: ...


def read_ahead(kind: SourceKind) -> int:
    """Frames decoded ahead of the model, for every kind of source: none for live sources (their grabber
    hands over the latest frame, so what is segmented is never older than one inference), a bounded few
    for files (decoding overlaps inference; memory stays flat)."""
    return 0 if kind == "live" else FILE_READ_AHEAD
