"""Pure, vectorised rendering of panoptic results: colours, overlay, contours, labels, legend.

Stuff segments take their class colour from the model's palette; each thing instance gets a shade of its
class colour chosen from its track id (stable across video frames) or its segment id. Sinks and the
viewer use the same functions; nothing here opens a window.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from model.classes import ClassSpec
from model.outputs import PanopticResult, segment_table

_GOLDEN = 0.6180339887498949
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class RenderOptions:
    """How overlays are drawn.

    Attributes:
        alpha: Opacity of the segment colours over the image (0 = image only, 1 = colours only).
        contours: Draw the outlines of thing instances.
        labels: Write class names (and scores) inside segments.
        legend: Draw a legend of the classes present.
        side_by_side: Put the source image left of the overlay.
    """

    alpha: float = 0.5
    contours: bool = True
    labels: bool = True
    legend: bool = True
    side_by_side: bool = False


def instance_shade(color: tuple[int, int, int], key: int) -> tuple[int, int, int]:
    """A lighter or darker variant of ``color`` that depends only on ``key`` (same key, same shade)."""
    u = (key * _GOLDEN) % 1.0
    delta = (u - 0.5) * 0.8
    c = np.asarray(color, np.float64)
    out = c + (255 - c) * delta if delta > 0 else c * (1 + delta)
    return tuple(int(round(v)) for v in np.clip(out, 0, 255))


def segment_colors(
    result: PanopticResult, classes: tuple[ClassSpec, ...], track_ids: dict[int, int] | None = None
) -> np.ndarray:
    """(K + 1, 3) uint8 colour of each segment id; id 0 (void) is black."""
    colors = []
    for seg in result.segments:
        color = classes[seg.category_id].color
        if seg.is_thing:
            key = track_ids.get(seg.id, seg.id) if track_ids else seg.id
            color = instance_shade(color, key)
        colors.append(color)
    return segment_table(result, colors, fill=(0, 0, 0), dtype=np.uint8)


def _as_numpy(panoptic: torch.Tensor | np.ndarray) -> np.ndarray:
    return panoptic.numpy() if isinstance(panoptic, torch.Tensor) else np.asarray(panoptic)


def _lookup(panoptic: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``lut[panoptic]`` for a (N, C) uint8 table; through OpenCV's LUT when ids fit in 8 bits (10x faster)."""
    if len(lut) <= 256 and panoptic.min(initial=0) >= 0:
        table = np.zeros((256, lut.shape[1]), np.uint8)
        table[: len(lut)] = lut
        ids = cv2.merge([panoptic.astype(np.uint8)] * lut.shape[1]) if lut.shape[1] > 1 else panoptic.astype(np.uint8)
        out = cv2.LUT(ids, table.reshape(256, 1, -1))
        return out.reshape(*panoptic.shape, lut.shape[1])
    return lut[np.clip(panoptic, 0, len(lut) - 1)]


def colorize(panoptic: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """(H, W) ids -> (H, W, 3) uint8 colours through ``lut`` (from :func:`segment_colors`)."""
    return _lookup(panoptic, lut)


def overlay(image: np.ndarray, colored: np.ndarray, alpha: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Blend ``colored`` over ``image`` with opacity ``alpha`` where ``mask`` (default: everywhere)."""
    blended = cv2.addWeighted(colored, float(alpha), image, 1.0 - float(alpha), 0.0)
    if mask is not None:
        cv2.copyTo(image, (~mask).astype(np.uint8), blended)
    return blended


def member_mask(panoptic: np.ndarray, result: PanopticResult, flags: list[bool]) -> np.ndarray:
    """(H, W) bool: pixels of the segments whose flag (one per segment of ``result``) is set."""
    table = segment_table(result, flags, fill=(0,), dtype=np.uint8)
    return _lookup(panoptic, table)[..., 0].astype(bool)


def boundaries(panoptic: np.ndarray, marked: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: pixels whose right or lower neighbour has another id (``marked``: only the outlines of
    the segments in this (H, W) bool mask, from :func:`member_mask`)."""
    edge = np.zeros(panoptic.shape, bool)
    dx = panoptic[:, 1:] != panoptic[:, :-1]
    dy = panoptic[1:] != panoptic[:-1]
    if marked is not None:
        dx &= marked[:, 1:] | marked[:, :-1]
        dy &= marked[1:] | marked[:-1]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:] |= dy
    edge[:-1] |= dy
    return edge


def label_anchors(panoptic: np.ndarray, max_side: int = 512) -> dict[int, tuple[int, int, float]]:
    """For each segment id, the pixel farthest from the segment's border: (x, y, distance in pixels).

    Large maps are searched at a reduced resolution (longer side about ``max_side``) and scaled back."""
    step = max(1, -(-max(panoptic.shape) // max_side))
    if step > 1:
        small = label_anchors(np.ascontiguousarray(panoptic[::step, ::step]), max_side)
        return {k: (x * step + step // 2, y * step + step // 2, d * step) for k, (x, y, d) in small.items()}
    edge = boundaries(panoptic)
    edge[[0, -1]] = True  # the image border counts as a border: labels stay inside the picture
    edge[:, [0, -1]] = True
    dist = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 3)
    ids = torch.from_numpy(panoptic.astype(np.int64).ravel())
    d = torch.from_numpy(dist.ravel())
    best = torch.full((int(ids.max()) + 1 if ids.numel() else 1,), -1.0).scatter_reduce(0, ids, d, "amax")
    cand = (d == best[ids]) & (ids > 0)
    pos = torch.nonzero(cand).squeeze(1).numpy()
    found, first = np.unique(ids.numpy()[pos], return_index=True)
    w = panoptic.shape[1]
    return {int(i): (int(pos[f] % w), int(pos[f] // w), float(dist.ravel()[pos[f]])) for i, f in zip(found, first)}


def _text_scale(height: int) -> tuple[float, int]:
    scale = float(np.clip(height / 1400, 0.35, 1.2))
    return scale, 1 if scale < 0.8 else 2


def _put_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, thick: int,
              color: tuple[int, int, int] = (255, 255, 255)) -> None:
    cv2.putText(img, text, org, _FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, color, thick, cv2.LINE_AA)


def draw_labels(img: np.ndarray, result: PanopticResult, classes: tuple[ClassSpec, ...],
                panoptic: np.ndarray) -> None:
    """Write "class score%" inside thing segments and the class name inside large stuff segments (in place)."""
    scale, thick = _text_scale(img.shape[0])
    anchors = label_anchors(panoptic)
    for seg in result.segments:
        if seg.id not in anchors:
            continue
        x, y, room = anchors[seg.id]
        name = classes[seg.category_id].name
        text = f"{name} {100 * seg.score:.0f}%" if seg.is_thing and seg.score is not None else name
        (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thick)
        big_enough = seg.bbox[2] >= 0.6 * tw and room >= th / 2 if seg.is_thing else room >= th and seg.bbox[2] >= tw
        if big_enough:
            org = (int(np.clip(x - tw // 2, 0, max(img.shape[1] - tw, 0))), int(np.clip(y + th // 2, th, img.shape[0])))
            _put_text(img, text, org, scale, thick)


def draw_track_ids(img: np.ndarray, result: PanopticResult, track_ids: dict[int, int], panoptic: np.ndarray,
                   only: frozenset[int] | None = None) -> None:
    """Write "#track" inside every tracked thing segment (``only``: just these segment ids), in place."""
    scale, thick = _text_scale(img.shape[0])
    anchors = label_anchors(panoptic)
    for seg in result.segments:
        track = track_ids.get(seg.id)
        if track is None or seg.id not in anchors or (only is not None and seg.id not in only):
            continue
        x, y, _ = anchors[seg.id]
        text = f"#{track}"
        (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thick)
        org = (int(np.clip(x - tw // 2, 0, max(img.shape[1] - tw, 0))), int(np.clip(y + th // 2, th, img.shape[0])))
        _put_text(img, text, org, scale, thick, (255, 255, 0))


def legend_entries(result: PanopticResult, classes: tuple[ClassSpec, ...]) -> list[tuple[str, tuple[int, int, int]]]:
    """(text, colour) per class present, in class order; thing classes show their instance count."""
    counts: dict[int, int] = {}
    for seg in result.segments:
        counts[seg.category_id] = counts.get(seg.category_id, 0) + 1
    entries = []
    for cat in sorted(counts):
        spec = classes[cat]
        text = f"{spec.name} x{counts[cat]}" if spec.is_thing else spec.name
        entries.append((text, spec.color))
    return entries


def draw_legend(img: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]]) -> None:
    """A legend box (colour swatch + text per entry) in the top-right corner, in place."""
    if not entries:
        return
    h, w = img.shape[:2]
    scale, thick = _text_scale(h)
    (_, th), base = cv2.getTextSize("Ag", _FONT, scale, thick)
    row = th + base + 4
    pad, swatch = 4, th + base
    rows = max(min(len(entries), (h - 2 * pad) // row), 1)
    shown = entries[:rows] if rows >= len(entries) else entries[: rows - 1] + [(f"+{len(entries) - rows + 1} more", None)]
    text_w = max(cv2.getTextSize(t, _FONT, scale, thick)[0][0] for t, _ in shown)
    box_w, box_h = min(pad * 3 + swatch + text_w, w), min(pad * 2 + row * len(shown), h)
    x0, y0 = w - box_w, 0
    region = img[y0 : y0 + box_h, x0 : x0 + box_w]
    region[:] = (region.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darkened background
    for i, (text, color) in enumerate(shown):
        top = y0 + pad + i * row
        if color is not None:
            cv2.rectangle(img, (x0 + pad, top + 1), (x0 + pad + swatch, top + swatch), tuple(int(c) for c in color), -1)
            cv2.rectangle(img, (x0 + pad, top + 1), (x0 + pad + swatch, top + swatch), (255, 255, 255), 1)
        cv2.putText(img, text, (x0 + 2 * pad + swatch, top + th + 1), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)


def render(
    image: np.ndarray,
    result: PanopticResult,
    classes: tuple[ClassSpec, ...],
    track_ids: dict[int, int] | None = None,
    options: RenderOptions = RenderOptions(),
) -> np.ndarray:
    """The overlay of ``result`` on ``image`` ((H, W, 3) uint8 RGB, same size as the result)."""
    panoptic = _as_numpy(result.panoptic).astype(np.int32)
    if panoptic.shape != image.shape[:2]:
        raise ValueError(f"result {panoptic.shape} and image {image.shape[:2]} sizes differ")
    colored = colorize(panoptic, segment_colors(result, classes, track_ids))
    out = overlay(image, colored, options.alpha, panoptic > 0)
    if options.contours:
        things = [s.is_thing for s in result.segments]
        if any(things):
            edge = boundaries(panoptic, member_mask(panoptic, result, things))
            if image.shape[0] >= 720:
                edge = cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8)).astype(bool)
            out[edge] = (255, 255, 255)
    if options.labels:
        draw_labels(out, result, classes, panoptic)
    if options.legend:
        draw_legend(out, legend_entries(result, classes))
    if options.side_by_side:
        out = np.concatenate([image, out], axis=1)
    return out


VIEW_MODES = ("overlay", "semantic", "instances", "boundaries", "raw")


def render_view(
    image: np.ndarray,
    result: PanopticResult,
    classes: tuple[ClassSpec, ...],
    mode: str = "overlay",
    alpha: float = 0.5,
    hidden: frozenset[int] = frozenset(),
    isolated: int | None = None,
    track_ids: dict[int, int] | None = None,
    show_tracks: bool = False,
) -> np.ndarray:
    """What the viewer shows: one of :data:`VIEW_MODES`, without the classes in ``hidden`` (train ids) and,
    with ``isolated`` (a segment id; -1 = none), only that segment; ``show_tracks`` writes the track ids
    of the shown things (overlay and instances modes)."""
    panoptic = _as_numpy(result.panoptic).astype(np.int32)
    shown = [s.category_id not in hidden and (isolated is None or s.id == isolated) for s in result.segments]
    mask = member_mask(panoptic, result, shown)
    if mode == "raw":
        return image.copy()
    out = _view(image, result, classes, mode, alpha, panoptic, shown, mask, track_ids)
    if show_tracks and track_ids and mode in ("overlay", "instances"):
        draw_track_ids(out, result, track_ids, panoptic, frozenset(s.id for s, show in zip(result.segments, shown) if show))
    return out


def _view(image: np.ndarray, result: PanopticResult, classes: tuple[ClassSpec, ...], mode: str, alpha: float,
          panoptic: np.ndarray, shown: list, mask: np.ndarray, track_ids: dict[int, int] | None) -> np.ndarray:
    """The image of one non-raw view mode (``mask``: the pixels of the ``shown`` segments)."""
    if mode == "boundaries":
        out = image.copy()
        out[boundaries(panoptic) & mask] = (255, 255, 255)
        return out
    if mode == "semantic":  # class colours only, no instance shades
        lut = segment_table(result, [classes[s.category_id].color for s in result.segments], (0, 0, 0), np.uint8)
        return overlay(image, colorize(panoptic, lut), 1.0, mask)
    lut = segment_colors(result, classes, track_ids)
    things = [show and s.is_thing for show, s in zip(shown, result.segments)]
    thing_mask = member_mask(panoptic, result, things)
    if mode == "instances":  # things in their shades over a dimmed image
        return overlay((image // 3).astype(np.uint8), colorize(panoptic, lut), 1.0, thing_mask)
    out = overlay(image, colorize(panoptic, lut), alpha, mask)
    if any(things):
        out[boundaries(panoptic, thing_mask)] = (255, 255, 255)
    return out

