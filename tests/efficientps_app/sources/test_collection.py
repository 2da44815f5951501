"""What the sources of a collection run expand to: every image and video once, named below its folder."""

from __future__ import annotations

import pytest

from efficientps_app.errors import SourceError
from efficientps_app.sources.collection import collect_inputs, frame_count
from tests.media import make_video


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_globs_files_and_lists(tmp_path):
    for name in ("a/img2.png", "a/img10.jpg", "a/clip.MP4", "a/notes.txt", "a/sub/deep.png", "b/other.png"):
        _touch(tmp_path / name)
    (tmp_path / "list.txt").write_text("b/other.png\n# a comment\n")
    inputs = collect_inputs([str(tmp_path / "a"), str(tmp_path / "b" / "*.png"), str(tmp_path / "list.txt"),
                             str(tmp_path / "a" / "img2.png")])
    assert [(i.relative, i.kind) for i in inputs] == [("clip.MP4", "video"), ("img2.png", "images"),
                                                     ("img10.jpg", "images"), ("other.png", "images")]
    deep = collect_inputs([str(tmp_path / "a")], recursive=True)
    assert "sub/deep.png" in [i.relative for i in deep]


def test_same_names_from_two_folders_keep_their_folders(tmp_path):
    a, b = _touch(tmp_path / "x" / "f.png"), _touch(tmp_path / "y" / "f.png")
    assert [i.relative for i in collect_inputs([str(a), str(b)])] == [str(a.resolve()).lstrip("/"),
                                                                     str(b.resolve()).lstrip("/")]


def test_refusals(tmp_path):
    _touch(tmp_path / "v.mp4")
    _touch(tmp_path / "v.mkv")
    with pytest.raises(SourceError, match="would write the same outputs"):
        collect_inputs([str(tmp_path)])
    for spec, message in (("0", "live source"), ("rtsp://cam/1", "live source"), (str(tmp_path / "no"), "no such"),
                          (str(tmp_path / "*.webp"), "no images or videos match")):
        with pytest.raises(SourceError, match=message):
            collect_inputs([spec])


def test_frame_count_of_videos_and_images(tmp_path):
    video = make_video(tmp_path / "clip.mp4", frames=12, fps=10, audio=None)
    broken = _touch(tmp_path / "broken.mp4")
    image = _touch(tmp_path / "i.png")
    counts = [frame_count(i) for i in collect_inputs([str(video), str(broken), str(image)])]
    assert counts == [12, 1, 1]
    assert frame_count(collect_inputs([str(video)])[0], vid_stride=3) == 4
