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


def test_after_the_predictor_nothing_copies_results(tiny_weights, tmp_path, monkeypatch):
    """Results leave the device once, at the predictor's exit: tracker, renderer, writers and the viewer's
    views read them as they are (they used to call .cpu() each, the viewer once per mouse move)."""
    import numpy as np
    import torch

    from efficientps_app.inference.predictor import Prediction
    from efficientps_app.inference.tracking import Tracker
    from efficientps_app.outputs.render import VIEW_MODES, render, render_view
    from efficientps_app.outputs.sinks import JsonlSink, PanopticSink
    from efficientps_app.sources.frames import Frame, FrameMeta

    predictor = Predictor(tiny_weights, device="cpu")
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    result = predictor.predict(image)
    assert result.panoptic.device.type == "cpu" and result.semantic.device.type == "cpu"

    def copy(self, *args, **kwargs):
        raise AssertionError("a result copied to the CPU after the predictor")

    monkeypatch.setattr(torch.Tensor, "cpu", copy)
    tracks = Tracker().update(result)
    render(image, result, predictor.classes, tracks)
    for mode in VIEW_MODES:
        render_view(image, result, predictor.classes, mode, track_ids=tracks)
    prediction = Prediction(Frame(image, FrameMeta(index=0, source_name="x.png", relative_path="x.png")), result, tracks)
    for sink in (PanopticSink(tmp_path / "p.json", predictor.classes), JsonlSink(tmp_path / "p.jsonl", predictor.classes)):
        sink.write(prediction, None)
        assert sink.close(keep=True, complete=True)


@pytest.mark.gpu
def test_results_come_back_on_the_cpu_from_cuda(tiny_weights):
    import numpy as np
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    predictor = Predictor(tiny_weights, device="cuda", batch=2)
    images = [np.random.default_rng(i).integers(0, 255, (64, 96, 3), dtype=np.uint8) for i in range(2)]
    for result in predictor.predict_batch(images):
        assert result.panoptic.device.type == "cpu" and result.panoptic.dtype == torch.int32
        assert result.semantic.device.type == "cpu" and result.semantic.dtype == torch.int64
