"""Live sources: webcams and streams."""

from __future__ import annotations

import pytest

from efficientps_app.errors import SourceError
from efficientps_app.sources.dispatch import open_source
from tests.media import make_video


def test_live_source_reads_a_stream_with_buffer(tmp_path):
    path = make_video(tmp_path / "v.mp4", frames=8, fps=10, audio=None)
    from efficientps_app.sources.live import LiveSource

    with LiveSource(str(path), stream_buffer=True) as s:
        frames = list(s)
    assert s.kind == "live" and len(frames) == 8 and frames[0].image.shape == (64, 96, 3)
    assert all(b.meta.timestamp_s >= a.meta.timestamp_s for a, b in zip(frames, frames[1:]))


def test_unreachable_stream_and_missing_webcam(tmp_path):
    with pytest.raises(SourceError, match="cannot open the stream"):
        open_source("rtsp://127.0.0.1:9/none")
    with pytest.raises(SourceError, match="cannot open the webcam"):
        open_source("57")
