"""Live sources: webcams and streams; the latest frame wins, with no read-ahead in front of the model."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from efficientps_app.errors import SourceError
from efficientps_app.inference.predictor import Predictor
from efficientps_app.sources.dispatch import open_source
from efficientps_app.sources.live import LiveSource
from efficientps_app.threads import DONE, LatestSlot
from tests.media import FakeCamera, PacedBackend, make_video


def test_live_source_reads_a_stream_with_buffer(tmp_path):
    path = make_video(tmp_path / "v.mp4", frames=8, fps=10, audio=None)

    with LiveSource(str(path), stream_buffer=True) as s:
        frames = list(s)
    assert s.kind == "live" and len(frames) == 8 and frames[0].image.shape == (64, 96, 3)
    assert all(b.meta.timestamp_s >= a.meta.timestamp_s for a, b in zip(frames, frames[1:]))


def test_unreachable_stream_and_missing_webcam(tmp_path):
    with pytest.raises(SourceError, match="cannot open the stream"):
        open_source("rtsp://127.0.0.1:9/none")
    with pytest.raises(SourceError, match="cannot open the webcam"):
        open_source("57")


def test_a_slow_model_segments_fresh_frames_of_a_fast_camera(tiny_weights):
    """200 fps camera, ~5 fps model: each segmented frame is less than two inference periods old (with a
    read-ahead queue in front of the model it was about eight)."""
    predictor = Predictor(tiny_weights, device="cpu")
    predictor.backend = PacedBackend(predictor.backend, 0.2)
    camera = FakeCamera(fps=200)
    ages, done = [], []
    with LiveSource("fake camera", capture=camera) as source:
        for pred in itertools.islice(predictor.stream(source), 10):
            done.append(time.monotonic())
            ages.append(done[-1] - camera.times[pred.frame.meta.index])
        dropped = source.dropped
    periods = np.diff(done)  # the time the model took for each frame after the first (any machine load)
    assert periods.min() >= 0.2 and dropped > 0
    assert all(age < 2 * period for age, period in zip(ages[1:], periods)), (ages, periods.tolist())


def test_the_latest_frame_replaces_the_waiting_one_at_once():
    slot = LatestSlot()
    start = time.monotonic()
    for i in range(5):
        slot.put(i)
    assert time.monotonic() - start < 0.05 and slot.dropped == 4
    slot.close()
    assert slot.get() == 4 and slot.get() is DONE
