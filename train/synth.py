"""Procedural street scenes written in the exact Cityscapes layout and file formats.

``write_synthetic_cityscapes(root, ...)`` creates::

    root/leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png   RGB uint8
    root/gtFine/{split}/{city}/..._gtFine_labelIds.png      uint8 Cityscapes labelIds
    root/gtFine/{split}/{city}/..._gtFine_instanceIds.png   uint16: labelId * 1000 + k for instances,
                                                            the labelId for stuff, void and crowd regions
    root/gtFine/{split}/{city}/..._gtFine_color.png         RGB palette image
    root/gtFine/{split}/{city}/..._gtFine_polygons.json     outlines of every segment

so the data goes through ``data prepare``, training and evaluation exactly as the real dataset does.
Scenes: sky, buildings, wall and fence, road with lane markings, sidewalks, vegetation, terrain, poles
with signs and traffic lights; cars, trucks, buses, persons, riders on bicycles and motorcycles, drawn
far to near so that nearer objects occlude farther ones; some crowd regions and an ego-vehicle strip
(void). Everything is deterministic for a seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label

CITIES = {"train": ("synthtown", "mockberg"), "val": ("fakefurt",)}


@dataclass
class _Canvas:
    image: np.ndarray  # (H, W, 3) float32 RGB 0-255
    label: np.ndarray  # (H, W) int32 labelIds
    inst: np.ndarray  # (H, W) int32 instanceIds
    rng: np.random.Generator
    counters: dict[int, int]
    noise: np.random.Generator | None = None  # texture noise; None = ``rng`` (a video keeps shapes apart)
    instance_key: int | None = None  # instance number k of what is painted now (a video's actor); None = count

    @property
    def hw(self) -> tuple[int, int]:
        return self.label.shape

    def paint(self, mask: np.ndarray, name: str, color: tuple[float, float, float], instance: bool = False,
              crowd: bool = False, texture: float = 6.0) -> None:
        """Give ``mask`` the class ``name``, a noisy colour and, for things, a new instance id."""
        if not mask.any():
            return
        lab = name2label[name].id
        noise = (self.noise or self.rng).normal(0.0, texture, size=(int(mask.sum()), 1))
        self.image[mask] = np.clip(np.asarray(color, np.float32) + noise, 0, 255)
        self.label[mask] = lab
        if instance and not crowd:
            if self.instance_key is None:
                self.counters[lab] = self.counters.get(lab, -1) + 1
            self.inst[mask] = lab * 1000 + (self.counters[lab] if self.instance_key is None else self.instance_key)
        else:
            self.inst[mask] = lab


def _poly(canvas: _Canvas, points: list[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(canvas.hw, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(points)).astype(np.int32)], 1)
    return mask.astype(bool)


def _rect(canvas: _Canvas, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    h, w = canvas.hw
    mask = np.zeros((h, w), bool)
    mask[max(int(y0), 0) : max(min(int(y1), h), 0), max(int(x0), 0) : max(min(int(x1), w), 0)] = True
    return mask


def _ellipse(canvas: _Canvas, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    mask = np.zeros(canvas.hw, np.uint8)
    cv2.ellipse(mask, (int(cx), int(cy)), (max(int(rx), 1), max(int(ry), 1)), 0, 0, 360, 1, -1)
    return mask.astype(bool)


def _background(c: _Canvas, horizon: int, vanish_x: float, dashes: np.ndarray | None = None) -> None:
    """Sky, skyline, walls, fences, trees, sidewalks, terrain and the road; ``dashes`` are the positions of
    the centre-line dashes (0 = horizon, 1 = bottom; they move in a video)."""
    h, w = c.hw
    rng = c.rng
    sky = np.zeros((h, w), bool)
    sky[:horizon] = True
    c.paint(sky, "sky", (110 + rng.uniform(-20, 20), 160 + rng.uniform(-20, 20), 215), texture=3)
    x = 0.0
    while x < w:  # a skyline of buildings
        bw = rng.uniform(0.08, 0.22) * w
        top = horizon - rng.uniform(0.15, 0.4) * h
        shade = rng.uniform(60, 150)
        c.paint(_rect(c, x, top, x + bw, horizon + 2), "building", (shade, shade * 0.95, shade * 0.9))
        for wy in np.arange(top + 6, horizon - 6, 12):  # windows, still building
            for wx in np.arange(x + 4, x + bw - 6, 10):
                c.image[_rect(c, wx, wy, wx + 5, wy + 6)] = (40, 50, 70)
        x += bw
    if rng.random() < 0.5:
        c.paint(_rect(c, 0, horizon - 0.05 * h, rng.uniform(0.1, 0.3) * w, horizon + 2), "wall", (140, 135, 125))
    if rng.random() < 0.5:
        x0 = rng.uniform(0.6, 0.85) * w
        c.paint(_rect(c, x0, horizon - 0.04 * h, w, horizon + 2), "fence", (150, 120, 100), texture=12)
    for _ in range(rng.integers(1, 4)):  # trees
        cx, r = rng.uniform(0, w), rng.uniform(0.05, 0.12) * h
        c.paint(_ellipse(c, cx, horizon - r * 0.6, r * 1.2, r), "vegetation", (70, 120 + rng.uniform(-20, 20), 40), texture=18)
    road = _poly(c, [(vanish_x - 0.03 * w, horizon), (vanish_x + 0.03 * w, horizon), (w * 1.15, h), (-0.15 * w, h)])
    c.paint(_rect(c, 0, horizon, w, h) & ~road, "sidewalk", (170, 150, 160))
    for side in (-1, 1):  # terrain strips at the outer edges of the sidewalks
        edge = 0 if side < 0 else w
        c.paint(_poly(c, [(edge, horizon + 0.08 * h), (edge, h * 0.8), (edge - side * 0.08 * w, h * 0.8)]),
                "terrain", (150, 190, 110), texture=14)
    c.paint(road, "road", (95, 90, 100), texture=5)
    for t in np.linspace(0.05, 0.95, 9)[::2] if dashes is None else dashes:  # centre line (part of the road)
        y0, y1 = horizon + (h - horizon) * t, horizon + (h - horizon) * (t + 0.08)
        hw0, hw1 = 0.002 * w + 0.01 * w * t, 0.002 * w + 0.01 * w * (t + 0.08)
        c.image[_poly(c, [(vanish_x - hw0, y0), (vanish_x + hw0, y0), (vanish_x + hw1, y1), (vanish_x - hw1, y1)])] = 235


def _pole_with_sign(c: _Canvas, x: float, base: float, scale: float) -> None:
    height = 0.45 * c.hw[0] * scale
    c.paint(_rect(c, x, base - height, x + max(2, 4 * scale), base), "pole", (120, 120, 125), texture=4)
    if c.rng.random() < 0.5:
        s = 12 * scale
        c.paint(_rect(c, x - s / 2, base - height - s, x + s / 2, base - height), "traffic sign", (230, 210, 20))
    else:
        c.paint(_rect(c, x - 3 * scale, base - height - 20 * scale, x + 7 * scale, base - height), "traffic light",
                (40, 40, 40), texture=3)
        c.image[_ellipse(c, x + 2 * scale, base - height - 14 * scale, 2.5 * scale, 2.5 * scale)] = (250, 60, 40)


def _vehicle(c: _Canvas, name: str, x: float, base: float, scale: float) -> None:
    sizes = {"car": (70, 32), "truck": (90, 55), "bus": (120, 60)}
    bw, bh = (v * scale for v in sizes[name])
    color = tuple(c.rng.uniform(30, 220, size=3))
    body = _rect(c, x, base - bh, x + bw, base - bh * 0.12)
    if name == "car":
        body |= _rect(c, x + bw * 0.2, base - bh * 1.45, x + bw * 0.8, base - bh)
    wheels = _ellipse(c, x + bw * 0.2, base - bh * 0.1, bh * 0.16, bh * 0.16)
    wheels |= _ellipse(c, x + bw * 0.8, base - bh * 0.1, bh * 0.16, bh * 0.16)
    c.paint(body | wheels, name, color, instance=True)
    c.image[wheels] = (20, 20, 20)
    c.image[_rect(c, x + bw * 0.25, base - bh * (1.35 if name == "car" else 0.9), x + bw * 0.75,
                  base - bh * (1.05 if name == "car" else 0.6)) & body] = (60, 80, 110)


def _person(c: _Canvas, x: float, base: float, scale: float, crowd: bool = False) -> None:
    ph = 55 * scale
    shape = _ellipse(c, x, base - ph * 0.9, ph * 0.09, ph * 0.1) | _rect(c, x - ph * 0.12, base - ph * 0.8, x + ph * 0.12, base - ph * 0.4)
    shape |= _rect(c, x - ph * 0.1, base - ph * 0.4, x - ph * 0.02, base) | _rect(c, x + ph * 0.02, base - ph * 0.4, x + ph * 0.1, base)
    c.paint(shape, "person", tuple(c.rng.uniform(20, 230, size=3)), instance=True, crowd=crowd, texture=10)


def _rider(c: _Canvas, x: float, base: float, scale: float) -> None:
    name = "bicycle" if c.rng.random() < 0.6 else "motorcycle"
    bw = 40 * scale
    wheels = _ellipse(c, x, base - 8 * scale, 8 * scale, 8 * scale) | _ellipse(c, x + bw, base - 8 * scale, 8 * scale, 8 * scale)
    frame = _poly(c, [(x, base - 8 * scale), (x + bw, base - 8 * scale), (x + bw * 0.6, base - 22 * scale)])
    c.paint(wheels | frame, name, (30, 30, 35) if name == "bicycle" else (160, 30, 30), instance=True)
    ph = 45 * scale
    cx = x + bw * 0.5
    rider = _ellipse(c, cx, base - 22 * scale - ph * 0.85, ph * 0.1, ph * 0.11)
    rider |= _rect(c, cx - ph * 0.13, base - 22 * scale - ph * 0.75, cx + ph * 0.13, base - 18 * scale)
    c.paint(rider, "rider", tuple(c.rng.uniform(20, 230, size=3)), instance=True, texture=10)


def render_scene(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One synthetic street scene.

    Returns:
        image (H, W, 3) uint8 RGB, labelIds (H, W) uint8, instanceIds (H, W) uint16.
    """
    rng = np.random.default_rng(seed)
    c = _Canvas(np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.int32),
                np.zeros((height, width), np.int32), rng, {})
    horizon = int(height * rng.uniform(0.38, 0.5))
    vanish_x = width * rng.uniform(0.35, 0.65)
    _background(c, horizon, vanish_x)

    objects: list[tuple[float, str, float]] = []  # (base y, kind, x): drawn far to near
    for _ in range(rng.integers(2, 9)):
        objects.append((rng.uniform(horizon + 0.1 * height, height * 0.97), rng.choice(["car", "car", "truck", "bus"]),
                         rng.uniform(-0.05, 0.9) * width))
    for _ in range(rng.integers(1, 7)):
        objects.append((rng.uniform(horizon + 0.08 * height, height * 0.98), rng.choice(["person", "person", "rider"]),
                        rng.uniform(0, 0.97) * width))
    for _ in range(rng.integers(1, 4)):
        objects.append((rng.uniform(horizon + 0.05 * height, height * 0.9), "pole", rng.uniform(0, 0.98) * width))
    if rng.random() < 0.3:
        objects.append((horizon + 0.12 * height, "crowd", rng.uniform(0.05, 0.7) * width))
    for base, kind, x in sorted(objects):
        scale = (base - horizon) / (height - horizon) * height / 256 * 1.6 + 0.15
        if kind in ("car", "truck", "bus"):
            _vehicle(c, kind, x, base, scale)
        elif kind == "person":
            _person(c, x, base, scale)
        elif kind == "rider":
            _rider(c, x, base, scale)
        elif kind == "pole":
            _pole_with_sign(c, x, base, scale)
        else:  # a group of people annotated as one crowd region
            for i in range(rng.integers(4, 8)):
                _person(c, x + i * 9 * scale, base + rng.uniform(-3, 3), scale, crowd=True)
    c.paint(_ellipse(c, width / 2, height * 1.08, width * 0.55, height * 0.1), "ego vehicle", (30, 30, 30), texture=2)

    light = rng.uniform(0.75, 1.2)
    image = np.clip(c.image * light + rng.normal(0, 3, size=c.image.shape), 0, 255).astype(np.uint8)
    return image, c.label.astype(np.uint8), c.inst.astype(np.uint16)


def _polygons(label: np.ndarray, inst: np.ndarray) -> dict:
    from cityscapesscripts.helpers.labels import id2label

    objects = []
    for value in np.unique(inst):
        lab = id2label[int(value) // 1000 if value >= 1000 else int(value)]
        contours, _ = cv2.findContours((inst == value).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if len(contour) >= 3:
                name = lab.name + ("group" if value < 1000 and lab.hasInstances else "")
                objects.append({"label": name, "polygon": contour[:, 0, :].tolist()})
    return {"imgHeight": int(label.shape[0]), "imgWidth": int(label.shape[1]), "objects": objects}


def write_synthetic_cityscapes(root: str | Path, train: int, val: int, size: tuple[int, int], seed: int = 0,
                               progress=None) -> list[Path]:
    """Write ``train`` + ``val`` scenes of ``size`` (H, W) under ``root``; returns the image paths.

    ``progress``, if given, is called once per written image.
    """
    from cityscapesscripts.helpers.labels import id2label

    root = Path(root)
    palette = np.zeros((256, 3), np.uint8)
    for lab in id2label.values():
        if 0 <= lab.id < 256:
            palette[lab.id] = lab.color
    written = []
    for split, count in (("train", train), ("val", val)):
        cities = CITIES[split]
        for i in range(count):
            city = cities[i % len(cities)]
            stem = f"{city}_{i // len(cities):06d}_{19 + (i % 7):06d}"
            image, label, inst = render_scene(size[0], size[1], seed * 100_003 + (0 if split == "train" else 50_000) + i)
            img_dir, gt_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
            img_dir.mkdir(parents=True, exist_ok=True)
            gt_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(img_dir / f"{stem}_leftImg8bit.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(gt_dir / f"{stem}_gtFine_labelIds.png"), label)
            cv2.imwrite(str(gt_dir / f"{stem}_gtFine_instanceIds.png"), inst)
            cv2.imwrite(str(gt_dir / f"{stem}_gtFine_color.png"), cv2.cvtColor(palette[label], cv2.COLOR_RGB2BGR))
            (gt_dir / f"{stem}_gtFine_polygons.json").write_text(json.dumps(_polygons(label, inst)))
            written.append(img_dir / f"{stem}_leftImg8bit.png")
            if progress is not None:
                progress()
    return written
