"""Class metadata: the one place that says which classes a model predicts.

The class list travels with the model (it is part of :class:`model.config.EfficientPSConfig` and is
written into every weights file), so a model trained on another label set carries its own names and
colours. Stuff classes come first, thing classes after them, as in the official EfficientPS code. A
COCO panoptic dataset's ``categories`` become a class list with :func:`classes_from_categories`.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass


@dataclass(frozen=True)
class ClassSpec:
    """One predicted class.

    Attributes:
        name: Human-readable name ("road", "car").
        train_id: Index of the class in the network output (0..C-1).
        label_id: The dataset's category id: the Cityscapes labelId (what ``*_gtFine_labelIds.png`` and the
            panoptic JSON use), or the ``id`` of a COCO panoptic category.
        color: RGB colour, 0-255 (the Cityscapes palette, or the dataset's own).
        is_thing: True for countable objects (instances), False for stuff.
    """

    name: str
    train_id: int
    label_id: int
    color: tuple[int, int, int]
    is_thing: bool



CITYSCAPES_CLASSES: tuple[ClassSpec, ...] = (
    ClassSpec("road", 0, 7, (128, 64, 128), False),
    ClassSpec("sidewalk", 1, 8, (244, 35, 232), False),
    ClassSpec("building", 2, 11, (70, 70, 70), False),
    ClassSpec("wall", 3, 12, (102, 102, 156), False),
    ClassSpec("fence", 4, 13, (190, 153, 153), False),
    ClassSpec("pole", 5, 17, (153, 153, 153), False),
    ClassSpec("traffic light", 6, 19, (250, 170, 30), False),
    ClassSpec("traffic sign", 7, 20, (220, 220, 0), False),
    ClassSpec("vegetation", 8, 21, (107, 142, 35), False),
    ClassSpec("terrain", 9, 22, (152, 251, 152), False),
    ClassSpec("sky", 10, 23, (70, 130, 180), False),
    ClassSpec("person", 11, 24, (220, 20, 60), True),
    ClassSpec("rider", 12, 25, (255, 0, 0), True),
    ClassSpec("car", 13, 26, (0, 0, 142), True),
    ClassSpec("truck", 14, 27, (0, 0, 70), True),
    ClassSpec("bus", 15, 28, (0, 60, 100), True),
    ClassSpec("train", 16, 31, (0, 80, 100), True),
    ClassSpec("motorcycle", 17, 32, (0, 0, 230), True),
    ClassSpec("bicycle", 18, 33, (119, 11, 32), True),
)
"""The 19 Cityscapes evaluation classes: trainIds 0-10 are stuff, 11-18 are things."""

VOID_ID = 255
"""Label value for void / ignored pixels in semantic targets and category lists."""


def validate_classes(classes: tuple[ClassSpec, ...]) -> None:
    """Check that a class list can drive the network.

    Raises:
        ValueError: train ids are not 0..C-1 in order, stuff does not precede things, or a kind is empty.
    """
    if [c.train_id for c in classes] != list(range(len(classes))):
        raise ValueError("class train_ids must be 0..C-1 in order")
    kinds = [c.is_thing for c in classes]
    if kinds != sorted(kinds):
        raise ValueError("stuff classes must come before thing classes")
    if not any(kinds) or all(kinds):
        raise ValueError("a class list needs at least one stuff and one thing class")


def fallback_color(index: int) -> tuple[int, int, int]:
    """A distinct, saturated RGB colour for a class without one (golden-ratio steps around the hue circle)."""
    r, g, b = colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.75, 0.95 - 0.25 * (index % 3) / 2)
    return round(255 * r), round(255 * g), round(255 * b)


def classes_from_categories(categories: list[dict]) -> tuple[ClassSpec, ...]:
    """The class list of COCO panoptic ``categories`` (``id``, ``name``, ``isthing``, optional ``color``):
    stuff first, then things, each in the dataset's order; the category id becomes ``label_id``.

    Raises:
        ValueError: a category lacks a field, an id repeats, or a kind (stuff or thing) is missing.
    """
    try:
        entries = [(int(c["id"]), str(c["name"]), bool(c["isthing"]), c.get("color")) for c in categories]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"categories need 'id', 'name' and 'isthing' ({type(err).__name__}: {err})") from err
    ids = [e[0] for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"category ids repeat: {sorted(i for i in set(ids) if ids.count(i) > 1)}")
    ordered = [e for e in entries if not e[2]] + [e for e in entries if e[2]]
    classes = []
    for i, (cat_id, name, thing, color) in enumerate(ordered):
        rgb = (int(color[0]), int(color[1]), int(color[2])) if color else fallback_color(i)
        classes.append(ClassSpec(name, i, cat_id, rgb, thing))
    validate_classes(tuple(classes))
    return tuple(classes)
