"""Video file sources: timing, stride, time range, variable frame rate, corrupt input."""

from __future__ import annotations

import pytest

from efficientps_app.errors import SourceError
from efficientps_app.sources.dispatch import open_source
from tests.media import make_video


def test_video_frames_timing_stride_and_range(tmp_path):
    path = make_video(tmp_path / "v.mp4", frames=12, fps=10, audio=None)
    with open_source(path) as s:
        frames = list(s)
    assert s.kind == "video" and s.total == 12 and s.fps == 10
    assert [round(f.meta.timestamp_s, 3) for f in frames] == [round(0.1 * i, 3) for i in range(12)]
    assert frames[0].image.shape == (64, 96, 3)
    with open_source(path, vid_stride=3) as s:
        assert [f.meta.index for f in s] == [0, 3, 6, 9]
    with open_source(path, start=0.3, end=0.6) as s:
        assert [round(f.meta.timestamp_s, 3) for f in s] == [0.3, 0.4, 0.5]


def test_variable_frame_rate_timestamps_survive(tmp_path):
    path = make_video(tmp_path / "vfr.mkv", frames=6, fps=10, audio=None, pts_step=[1, 3])
    with open_source(path) as s:
        times = [round(f.meta.timestamp_s, 3) for f in s]
    assert times == [0.0, 0.1, 0.4, 0.5, 0.8, 0.9]


def test_not_a_video_gets_a_clear_error(tmp_path):
    (tmp_path / "fake.mp4").write_bytes(b"\x00\x01 not a video" * 50)
    with pytest.raises(SourceError, match="fake.mp4: not an image or a video"):
        open_source(tmp_path / "fake.mp4")


def test_corrupt_packets_are_skipped_and_counted(tmp_path):
    import av

    path = make_video(tmp_path / "v.mkv", frames=30, fps=10, audio=None)
    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    for i in (8, 15, 22):  # damage the payload of three packets, keep the container intact
        pos, size = packets[i]
        data[pos + size // 3 : pos + size // 3 + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    with open_source(path) as s:
        frames = list(s)  # no exception: damaged packets are reported, decoding goes on
    assert 20 <= len(frames) < 30
    assert s.failures and all("corrupt data after" in f for f in s.failures)


def test_a_frames_index_is_its_place_in_the_video_whatever_is_skipped(tmp_path):
    """One definition for segment --start and the viewer: the index counts from the start of the video."""
    from efficientps_app.viewer.frames import FrameStore

    path = make_video(tmp_path / "v.mp4", frames=12, fps=10, audio=None)
    with open_source(path, start=0.3, end=0.6) as s:
        ranged = [(f.meta.index, round(f.meta.timestamp_s, 3)) for f in s]
    assert ranged == [(3, 0.3), (4, 0.4), (5, 0.5)]  # was (0, 0.3), (1, 0.4), ...
    store = FrameStore(path)
    try:
        seen = [store.get(i) for i in (9, 4)]  # forward, then a seek back
    finally:
        store.close()
    assert [(f.meta.index, round(f.meta.timestamp_s, 3)) for f in seen] == [(9, 0.9), (4, 0.4)]


def test_frames_cannot_be_changed_after_the_fact(tmp_path):
    import dataclasses

    with open_source(make_video(tmp_path / "v.mp4", frames=2, audio=None)) as s:
        frame = next(iter(s))
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.meta = frame.meta  # the viewer used to rewrite frame.meta


def test_one_fallback_frame_rate():
    from efficientps_app.sources.frames import FALLBACK_FPS, frame_rate

    assert frame_rate(None) == frame_rate(0.0) == FALLBACK_FPS == 30.0 and frame_rate(25.0) == 25.0


def test_a_time_range_without_frames_is_refused_when_opened(tmp_path):
    path = make_video(tmp_path / "v.mp4", frames=6, fps=10, audio=None)
    with pytest.raises(SourceError, match=r"--start 5: no frames there \(.*v.mp4 is 0.60 s long\)"):
        open_source(path, start=5.0)
    with pytest.raises(SourceError, match="--end 0: no frames before it"):
        open_source(path, end=0.0)
