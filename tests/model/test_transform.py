"""The shared inference transform: inference sizes, batch, padding, crop, and results resized back."""

from __future__ import annotations

import numpy as np
import torch

from model.outputs import RawOutputs
from model.transform import InferenceTransform, resize_result
from tests.efficientps_app.results import make_result


def test_inference_sizes():
    plan = InferenceTransform.plan
    assert plan((96, 160)).size == (96, 160)
    assert plan((96, 160), imgsz=64).size == (38, 64) and plan((96, 160), scale=0.5).size == (48, 80)
    assert plan((512, 1024), preferred=(1024, 2048)).size == (1024, 2048)
    assert plan((96, 160), imgsz=64, fixed=(128, 128)).size == (77, 128)  # a fixed-size model wins


def test_letterbox_into_a_fixed_size_and_crop_back():
    t = InferenceTransform.plan((96, 160), (255.0, 0.0, 0.0), fixed=(128, 128))
    image = np.full((96, 160, 3), 255, np.uint8)
    batch = t.to_batch([image, image])
    assert batch.shape == (2, 3, 128, 128)
    assert torch.allclose(batch[:, :, :77], torch.tensor(1.0)) and torch.all(batch[:, 0, 77:] == 1)
    assert torch.all(batch[:, 1:, 77:] == 0)  # the padding is the mean colour
    boxes = torch.tensor([[10.0, 10, 20, 20], [10, 100, 20, 120]])  # the second lies in the padding
    raw = RawOutputs(torch.zeros(2, 19, 128, 128), boxes, torch.ones(2), torch.full((2,), 13), torch.zeros(2, 28, 28),
                     torch.zeros(2, dtype=torch.long))
    cropped = t.crop(raw)
    assert cropped.sem_logits.shape[-2:] == (77, 128) and cropped.boxes.tolist() == [[10.0, 10, 20, 20]]


def test_resize_result_recomputes_areas_and_boxes():
    small = make_result(20, 30, [(5, 5, 15, 10, 13)], stuff=0)
    big = resize_result(small, (40, 60))
    car = next(s for s in big.segments if s.is_thing)
    assert car.area == 20 * 10 and car.bbox == (10, 10, 20, 10)
    assert sum(s.area for s in big.segments) == 40 * 60


def test_resize_drops_a_vanished_segment_and_renumbers():
    result = make_result(40, 60, [(0, 0, 1, 1, 11), (10, 10, 30, 30, 13)])  # a one-pixel person vanishes at 1/4
    small = resize_result(result, (10, 15))
    assert [(s.id, s.category_id) for s in small.segments] == [(1, 13), (2, 0)]
    assert set(small.panoptic.unique().tolist()) == {1, 2}
