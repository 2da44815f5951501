"""The Python API: results at source resolution, resizing, filters, batching, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from efficientps_app.errors import EfficientPSError, WeightsError
from model.device import DeviceError
from efficientps_app.inference.predictor import Predictor, keep_classes
from tests.efficientps_app.results import make_result
from tests.media import make_video


def _image(h: int = 96, w: int = 160, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_predict_returns_a_consistent_result_at_source_size(tiny_weights):
    result = Predictor(tiny_weights, device="cpu").predict(_image(90, 150))
    assert result.panoptic.shape == (90, 150) and result.semantic.shape == (90, 150)
    ids = result.panoptic.unique().tolist()
    assert set(ids) - {0} == {s.id for s in result.segments}
    for seg in result.segments:
        assert seg.area == int((result.panoptic == seg.id).sum())


def test_inference_size_and_resized_results(tiny_weights):
    p = Predictor(tiny_weights, device="cpu", imgsz=64)
    assert p.inference_size(96, 160) == (38, 64)
    assert p.predict(_image()).panoptic.shape == (96, 160)
    assert Predictor(tiny_weights, device="cpu", scale=0.5).inference_size(96, 160) == (48, 80)


def test_class_filter_voids_other_classes():
    result = make_result(20, 30, [(5, 5, 15, 10, 13), (20, 5, 25, 15, 11)], stuff=0)
    only_cars = keep_classes(result, frozenset({13}))
    assert [s.category_id for s in only_cars.segments] == [13]
    assert int((only_cars.panoptic == 0).sum()) == 20 * 30 - 50


def test_batches_give_the_same_results_as_single_images(tiny_weights):
    p = Predictor(tiny_weights, device="cpu")
    images = [_image(seed=i) for i in range(3)] + [_image(64, 64)]
    singles = [p.predict(im) for im in images]
    batched = p.predict_batch(images)
    for a, b in zip(singles, batched):
        assert torch.equal(a.panoptic, b.panoptic) and a.segments == b.segments


def test_stream_is_lazy_and_tracks_video(tiny_weights, tmp_path):
    video = make_video(tmp_path / "v.mp4", frames=6, size=(64, 96), audio=None)
    p = Predictor(tiny_weights, device="cpu", batch=2)
    stream = p.stream(video)
    first = next(stream)
    assert first.frame.meta.index == 0 and first.track_ids is not None
    rest = list(stream)
    assert [r.frame.meta.index for r in rest] == [1, 2, 3, 4, 5]
    assert p.timings.frames == 6



def test_stream_takes_several_image_files_in_order(tiny_weights, tmp_path):
    from PIL import Image

    paths = [tmp_path / name for name in ("b.png", "a.png")]
    for seed, path in enumerate(paths):
        Image.fromarray(_image(48, 64, seed)).save(path)
    names = [pred.frame.meta.source_name for pred in Predictor(tiny_weights, device="cpu").stream(paths)]
    assert names == [str(path) for path in paths]

@pytest.mark.parametrize(
    "kwargs, message",
    [({"imgsz": 64, "scale": 0.5}, "not both"), ({"conf": 2.0}, "--conf"), ({"classes": ["unicorn"]}, "unknown class"),
     ({"device": "tpu"}, "--device"), ({"batch": 0}, "--batch")],
)
def test_bad_options_are_one_line_errors(tiny_weights, kwargs, message):
    with pytest.raises((EfficientPSError, DeviceError), match=message):
        Predictor(tiny_weights, **{"device": "cpu", **kwargs})


def test_bad_weights_and_images(tiny_weights, tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        Predictor(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(WeightsError, match="junk.safetensors"):
        Predictor(tmp_path / "junk.safetensors")
    with pytest.raises(EfficientPSError, match="uint8 RGB"):
        Predictor(tiny_weights, device="cpu").predict(np.zeros((10, 10), np.float32))


def test_class_filter_keeps_ids_contiguous_for_the_panoptic_writer():
    """A car that is not the first segment: filtered results renumber, so COCO ids fit (was an IndexError)."""
    from model.classes import CITYSCAPES_CLASSES
    from train.panoptic_io import prediction_to_cityscapes

    result = make_result(20, 30, [(0, 0, 5, 5, 11), (5, 5, 10, 10, 13), (10, 10, 15, 15, 11), (20, 5, 25, 15, 13)])
    cars = keep_classes(result, frozenset({13}))
    assert [s.id for s in cars.segments] == [1, 2] and set(cars.panoptic.unique().tolist()) == {0, 1, 2}
    ids, segments = prediction_to_cityscapes(cars, CITYSCAPES_CLASSES)
    assert set(np.unique(ids).tolist()) == {0, 26001, 26002} and [s.id for s in segments] == [26001, 26002]


def test_damaged_size_metadata_is_a_one_line_error(tmp_path, capsys):
    from efficientps_app.cli import main
    from model import PRESETS, build_efficientps
    from model.weights import save_model

    bad = save_model(build_efficientps(PRESETS["tiny"]), tmp_path / "b.safetensors", extra={"input_size": "128*256"})
    from PIL import Image

    Image.fromarray(_image(64, 64)).save(tmp_path / "a.png")
    assert main(["segment", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "input_size: '128*256' is not a size HxW" in err and "internal error" not in err
