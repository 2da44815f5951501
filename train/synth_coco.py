"""Synthetic COCO panoptic datasets (``efficientps data synth --format coco-panoptic``).

Without a class list: the street scenes of :mod:`train.synth` with the Cityscapes classes (category id =
labelId), the same data that ``data synth`` followed by ``data convert`` gives.

With one (``--classes sky,sea,sand,grass,rock:boat,buoy,swimmer``, or ``5:3`` for generated names): a
"shapes world" in which every class has its own look. Stuff classes fill wavy horizontal bands (one
segment per class and image), each with its colour and a stripe texture of its own; thing classes are
ellipses, boxes or triangles (by class) in their colour, drawn in random order so that they occlude each
other; some images hold a crowd region (several objects of one class annotated as one ``iscrowd``
segment) and an unlabelled patch (void, segment id 0). The JSON lists the thing categories first, with
ids 1..T, and the stuff after them from id 101, as COCO does: the class list is reordered on reading.
Everything is deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.classes import fallback_color
from train.coco_panoptic import CocoPanopticWriter
from train.panoptic_io import PanopticSegment, eval_categories, gt_from_instance_ids, segments_of
from train.synth import render_scene

STUFF_ID0, THING_ID0 = 101, 1


@dataclass(frozen=True)
class ClassNames:
    """The class list of a shapes world: stuff names, then thing names."""

    stuff: tuple[str, ...]
    things: tuple[str, ...]


def parse_classes(text: str) -> ClassNames:
    """``STUFF:THINGS``, each side a comma-separated list of names or a count (``5:3``).

    Raises:
        ValueError: not of that form, repeated names, or an empty side.
    """
    if text.count(":") != 1:
        raise ValueError(f"--classes expects STUFF:THINGS (names or counts, e.g. sky,sea,sand:boat,buoy or 5:3), got {text!r}")
    sides = []
    for side, kind in zip(text.split(":"), ("stuff", "thing")):
        side = side.strip()
        names = [f"{kind} {i + 1}" for i in range(int(side))] if side.isdigit() else \
            [n.strip() for n in side.split(",") if n.strip()]
        if not names:
            raise ValueError(f"--classes needs at least one {kind} class, got {text!r}")
        sides.append(tuple(names))
    every = sides[0] + sides[1]
    if len(set(every)) != len(every):
        raise ValueError(f"--classes: repeated names in {text!r}")
    return ClassNames(*sides)


def shapes_categories(names: ClassNames) -> list[dict]:
    """COCO ``categories``: things first (ids from 1), then stuff (ids from 101), with their colours."""
    cats = [{"id": THING_ID0 + i, "name": n, "isthing": 1, "supercategory": "thing"} for i, n in enumerate(names.things)]
    cats += [{"id": STUFF_ID0 + i, "name": n, "isthing": 0, "supercategory": "stuff"} for i, n in enumerate(names.stuff)]
    for i, cat in enumerate(sorted(cats, key=lambda c: (c["isthing"], c["id"]))):  # the colours of the class list
        cat["color"] = list(fallback_color(i))
    return cats


def _shape_mask(hw: tuple[int, int], kind: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    if kind == 0:
        cv2.ellipse(mask, (int(cx), int(cy)), (max(int(rx), 2), max(int(ry), 2)), 0, 0, 360, 1, -1)
    elif kind == 1:
        cv2.rectangle(mask, (int(cx - rx), int(cy - ry)), (int(cx + rx), int(cy + ry)), 1, -1)
    else:
        pts = np.array([(cx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry)], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def _paint(image: np.ndarray, mask: np.ndarray, color: np.ndarray, rng: np.random.Generator, noise: float) -> None:
    image[mask] = np.clip(color + rng.normal(0, noise, (int(mask.sum()), 3)), 0, 255)


def _stuff_bands(image: np.ndarray, ids: np.ndarray, cats: list[dict], rng: np.random.Generator) -> None:
    h, w = ids.shape
    stuff = [c for c in cats if not c["isthing"]]
    bands = int(rng.integers(2, min(5, len(stuff) + 1) + 1))
    cuts = np.sort(rng.uniform(0.15, 0.85, bands - 1)) * h
    ys, xs = np.mgrid[0:h, 0:w]
    band = np.zeros((h, w), np.int64)
    for cut in cuts:  # wavy boundaries: each pixel is in the band of the cuts above it
        wave = cut + rng.uniform(0, 0.06 * h) * np.sin(xs * rng.uniform(0.02, 0.08) + rng.uniform(0, 6.3))
        band += ys >= wave
    chosen = rng.choice(len(stuff), size=bands, replace=bands > len(stuff))
    for b, k in enumerate(chosen):
        cat = stuff[k]
        mask = band == b
        stripes = 18 * np.sin((xs + ys * (k % 3 - 1)) * (0.25 + 0.12 * k))[mask][:, None]
        image[mask] = np.clip(np.asarray(cat["color"]) * 0.8 + 25 + stripes + rng.normal(0, 6, (int(mask.sum()), 3)), 0, 255)
        ids[mask] = cat["id"]  # one segment per stuff class: its id is its category id


def render_shapes(height: int, width: int, cats: list[dict], seed: int) -> tuple[np.ndarray, np.ndarray, list[PanopticSegment]]:
    """One shapes-world image.

    Returns:
        image (H, W, 3) uint8 RGB, segment ids (H, W) int64 (0 = void), and the segments present.
    """
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    ids = np.zeros((height, width), np.int64)
    _stuff_bands(image, ids, cats, rng)
    things = [c for c in cats if c["isthing"]]
    category = {c["id"]: c["id"] for c in cats if not c["isthing"]}
    crowd: set[int] = set()
    next_id = 1000
    s = min(height, width)
    for n in range(int(rng.integers(2, 8))):
        k = int(rng.integers(len(things)))
        cx, cy = rng.uniform(0.05, 0.95) * width, rng.uniform(0.15, 0.95) * height
        rx, ry = s * rng.uniform(0.1, 0.26), s * rng.uniform(0.1, 0.26)
        mask = _shape_mask(ids.shape, k % 3, cx, cy, rx, ry)
        if n == 0 and rng.random() < 0.3:  # a crowd: several small ones, one segment
            for _ in range(int(rng.integers(3, 6))):
                mask |= _shape_mask(ids.shape, k % 3, cx + rng.uniform(-2, 2) * rx, cy + rng.uniform(-1, 1) * ry,
                                    rx / 2.5, ry / 2.5)
            crowd.add(next_id)
        _paint(image, mask, np.asarray(things[k]["color"], np.float32), rng, 10.0)
        ids[mask] = next_id
        category[next_id] = things[k]["id"]
        next_id += 1
    if rng.random() < 0.3:  # an unlabelled patch: void
        y, x = int(rng.integers(0, height - 8)), int(rng.integers(0, width - 8))
        patch = np.zeros(ids.shape, bool)
        patch[y : y + int(rng.integers(6, s // 4)), x : x + int(rng.integers(6, s // 3))] = True
        image[patch] = rng.uniform(60, 200, (int(patch.sum()), 3))
        ids[patch] = 0
    return image.astype(np.uint8), ids, segments_of(ids, category, frozenset(crowd))


def write_synthetic_coco(root: str | Path, train: int, val: int, size: tuple[int, int], seed: int = 0,
                         classes: ClassNames | None = None, overwrite: bool = False,
                         progress: Callable[[], None] | None = None) -> list[Path]:
    """Write ``train`` + ``val`` images of ``size`` (H, W) as a COCO panoptic dataset under ``root``: the
    street scenes (``classes`` None) or a shapes world of ``classes``. Returns the split JSONs."""
    cats = eval_categories() if classes is None else shapes_categories(classes)
    written = []
    for split, count, offset in (("train", train, 0), ("val", val, 50_000)):
        writer = CocoPanopticWriter(root, split, cats, overwrite)
        for i in range(count):
            scene_seed = seed * 100_003 + offset + i
            if classes is None:
                image, _, inst = render_scene(size[0], size[1], scene_seed)
                ids, segments = gt_from_instance_ids(inst.astype(np.int64))
            else:
                image, ids, segments = render_shapes(size[0], size[1], cats, scene_seed)
            writer.add(f"{split}_{i:06d}", image, ids, segments)
            if progress is not None:
                progress()
        written.append(writer.close())
    return written

