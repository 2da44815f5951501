"""H.264 output: codec, timing, audio copy/transcode, odd sizes, temporary files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from efficientps_app.errors import OutputError
from efficientps_app.outputs.files import temp_path
from efficientps_app.outputs.video_writer import VideoWriter
from efficientps_app.sources.dispatch import open_source
from tests.media import make_video, probe


def _copy(src: Path, out: Path, audio: bool = True, limit: int | None = None, whole: bool = True) -> VideoWriter:
    with open_source(src) as s:
        writer = VideoWriter(out, s.fps, audio_from=src if audio else None)
        for i, frame in enumerate(s):
            if limit is not None and i == limit:
                break
            writer.write(frame.image, frame.meta)
        writer.close(whole_audio=whole)
    return writer


def test_h264_with_the_source_timing_and_audio_copied(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=12, fps=10, audio="aac")
    writer = _copy(src, tmp_path / "out.mp4")
    info = probe(tmp_path / "out.mp4")
    assert (info["video_codec"], info["pix_fmt"], info["audio_codec"]) == ("h264", "yuv420p", "aac")
    assert writer.audio_mode == "copy"
    assert info["times"] == pytest.approx(probe(src)["times"])
    assert info["audio_end"] == pytest.approx(1.2, abs=0.07)
    assert np.abs(info["images"][5].astype(int) - probe(src)["images"][5]).mean() < 6  # same picture
    assert not temp_path(tmp_path / "out.mp4").exists()


def test_variable_frame_rate_and_pcm_audio_transcoded_to_aac(tmp_path):
    src = make_video(tmp_path / "in.mkv", frames=8, fps=10, audio="pcm_s16le", pts_step=[1, 2])
    writer = _copy(src, tmp_path / "out.mp4")
    info = probe(tmp_path / "out.mp4")
    assert writer.audio_mode == "aac" and info["audio_codec"] == "aac"
    assert info["times"] == pytest.approx([0.0, 0.1, 0.3, 0.4, 0.6, 0.7, 0.9, 1.0])
    mkv = _copy(src, tmp_path / "out.mkv")
    assert mkv.audio_mode == "copy" and probe(tmp_path / "out.mkv")["audio_codec"] == "pcm_s16le"


def test_no_audio_and_a_shortened_run_ends_the_audio_with_the_video(tmp_path):
    src = make_video(tmp_path / "in.mp4", frames=20, fps=10, audio="aac")
    _copy(src, tmp_path / "silent.mp4", audio=False)
    assert probe(tmp_path / "silent.mp4")["audio_codec"] is None
    _copy(src, tmp_path / "short.mp4", limit=5, whole=False)
    info = probe(tmp_path / "short.mp4")
    assert len(info["times"]) == 5 and info["audio_end"] == pytest.approx(0.5, abs=0.07)


def test_odd_sizes_are_padded_to_even(tmp_path):
    from efficientps_app.sources.frames import FrameMeta

    writer = VideoWriter(tmp_path / "odd.mp4", fps=5)
    for i in range(3):
        writer.write(np.full((31, 45, 3), 100, np.uint8), FrameMeta(index=i, source_name="x"))
    writer.close()
    info = probe(tmp_path / "odd.mp4")
    assert info["size"] == (32, 46) and info["times"] == pytest.approx([0.0, 0.2, 0.4])


def test_discarded_output_leaves_nothing(tmp_path):
    from efficientps_app.sources.frames import FrameMeta

    writer = VideoWriter(tmp_path / "x.mp4", fps=5)
    for i in range(80):  # past the encoder's look-ahead, so packets reach the file
        writer.write(np.full((16, 16, 3), i, np.uint8), FrameMeta(index=i, source_name="x"))
    assert temp_path(tmp_path / "x.mp4").exists() and not (tmp_path / "x.mp4").exists()
    writer.close(keep=False)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_container_is_refused(tmp_path):
    with pytest.raises(OutputError, match="unsupported video container"):
        VideoWriter(tmp_path / "x.avi", fps=5)
