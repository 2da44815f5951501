"""The pipeline: interruptions finalise the outputs, failures remove them."""

from __future__ import annotations

import pytest

from efficientps_app.inference.predictor import Predictor
from efficientps_app.outputs.render import RenderOptions
from efficientps_app.outputs.sinks import VideoSink
from efficientps_app.pipeline import run_pipeline
from efficientps_app.sources.dispatch import open_source
from tests.media import make_video, probe


def test_interrupt_finalises_a_playable_shorter_video(tiny_weights, tmp_path):
    src = make_video(tmp_path / "clip.mp4", frames=12, fps=10, audio="aac")
    predictor = Predictor(tiny_weights, device="cpu")
    out = tmp_path / "out.mp4"

    def stop_at_five(pred):
        if pred.frame.meta.index == 4:
            raise KeyboardInterrupt

    with open_source(src) as s:
        summary = run_pipeline(predictor, s, [VideoSink(out, s.fps, src, crf=23)], RenderOptions(),
                               on_frame=stop_at_five)
    assert summary.interrupted and summary.outputs == [out]
    info = probe(out)
    assert 4 <= len(info["times"]) <= 5 and info["audio_end"] <= 0.7


def test_failing_sink_removes_the_partial_outputs(tiny_weights, tmp_path):
    src = make_video(tmp_path / "clip.mp4", frames=30, fps=10, audio=None)
    predictor = Predictor(tiny_weights, device="cpu")

    class Broken:
        needs_overlay = False

        def __init__(self):
            self.n = 0

        def write(self, prediction, overlay):
            self.n += 1
            if self.n == 3:
                raise OSError("disk full")

        def close(self, keep, complete):
            return []

    out = tmp_path / "out.mp4"
    with open_source(src) as s, pytest.raises(OSError, match="disk full"):
        run_pipeline(predictor, s, [VideoSink(out, s.fps, None, crf=23), Broken()], RenderOptions())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
