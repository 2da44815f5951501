"""Rendering: exact colours for a hand-made result, contours, labels, legend, stable shades."""

from __future__ import annotations

import numpy as np

from efficientps_app.outputs.render import RenderOptions, instance_shade, label_anchors, legend_entries, render, segment_colors
from model.classes import CITYSCAPES_CLASSES as CLASSES
from tests.efficientps_app.results import make_result

PLAIN = RenderOptions(alpha=1.0, contours=False, labels=False, legend=False)


def test_colours_follow_the_palette_and_void_keeps_the_image():
    result = make_result(40, 60, [(10, 10, 30, 30, 13)], stuff=0)
    result.panoptic[0, :5] = 0  # some void
    image = np.full((40, 60, 3), 7, np.uint8)
    out = render(image, result, CLASSES, options=PLAIN)
    assert out[35, 50].tolist() == list(CLASSES[0].color)  # road
    assert out[20, 20].tolist() == list(instance_shade(CLASSES[13].color, 1))  # car, shade of segment id 1
    assert out[0, 0].tolist() == [7, 7, 7]  # void shows the image


def test_alpha_blends_between_image_and_colour():
    result = make_result(10, 10, [], stuff=10)
    image = np.zeros((10, 10, 3), np.uint8)
    out = render(image, result, CLASSES, options=RenderOptions(alpha=0.5, contours=False, labels=False, legend=False))
    assert np.abs(out[5, 5].astype(int) - np.array(CLASSES[10].color) // 2).max() <= 1


def test_instance_shades_are_stable_and_distinct():
    car = CLASSES[13].color
    assert instance_shade(car, 3) == instance_shade(car, 3)
    assert len({instance_shade(car, k) for k in range(1, 9)}) == 8
    result = make_result(20, 40, [(0, 0, 10, 10, 13), (20, 0, 30, 10, 13)])
    by_track = segment_colors(result, CLASSES, {1: 5, 2: 6})
    assert by_track[1].tolist() == list(instance_shade(car, 5)) and by_track[2].tolist() == list(instance_shade(car, 6))


def test_contours_outline_things_only():
    result = make_result(40, 60, [(10, 10, 30, 30, 13)], stuff=0)
    image = np.zeros((40, 60, 3), np.uint8)
    out = render(image, result, CLASSES, options=RenderOptions(alpha=1.0, contours=True, labels=False, legend=False))
    assert out[10, 20].tolist() == [255, 255, 255] and out[29, 20].tolist() == [255, 255, 255]
    assert out[20, 20].tolist() != [255, 255, 255] and out[35, 50].tolist() == list(CLASSES[0].color)


def test_label_anchor_is_the_centre_of_a_square():
    result = make_result(60, 80, [(20, 10, 41, 31, 11)], stuff=2)
    anchors = label_anchors(result.panoptic.numpy())
    x, y, room = anchors[1]
    assert abs(x - 30) <= 1 and abs(y - 20) <= 1 and room >= 9


def test_labels_and_legend_draw_text():
    result = make_result(200, 400, [(50, 50, 200, 150, 13), (250, 60, 300, 190, 11)], stuff=0)
    image = np.zeros((200, 400, 3), np.uint8)
    base = render(image, result, CLASSES, options=PLAIN)
    labelled = render(image, result, CLASSES, options=RenderOptions(alpha=1.0, contours=False, labels=True, legend=False))
    assert (labelled[60:140, 60:190] != base[60:140, 60:190]).any()  # text inside the car
    with_legend = render(image, result, CLASSES, options=RenderOptions(alpha=1.0, contours=False, labels=False))
    corner = (with_legend[:40, -100:] != base[:40, -100:]).any(axis=2)
    assert corner.mean() > 0.3  # the legend box occupies the top-right corner
    assert legend_entries(result, CLASSES) == [("road", CLASSES[0].color), ("person x1", CLASSES[11].color),
                                               ("car x1", CLASSES[13].color)]


def test_long_legend_is_truncated_to_the_image():
    result = make_result(30, 200, [(i * 10, 0, i * 10 + 5, 5, 11 + i % 8) for i in range(16)], stuff=0)
    out = render(np.zeros((30, 200, 3), np.uint8), result, CLASSES)
    assert out.shape == (30, 200, 3)


def test_side_by_side_puts_the_source_left():
    result = make_result(20, 30, [], stuff=0)
    image = np.full((20, 30, 3), 9, np.uint8)
    out = render(image, result, CLASSES, options=RenderOptions(side_by_side=True, legend=False))
    assert out.shape == (20, 60, 3) and (out[:, :30] == 9).all()
