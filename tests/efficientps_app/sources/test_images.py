"""Image sources: what open_source accepts, how images are decoded, corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientps_app.errors import SourceError
from efficientps_app.sources.dispatch import open_source
from efficientps_app.sources.images import read_image_file


def _png(path: Path, value: int = 0, size: tuple[int, int] = (20, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)
    return path


def _names(source) -> list[str]:
    with source as s:
        return [f.meta.relative_path for f in s]


def test_folder_natural_order_and_recursive(tmp_path):
    for name in ("img10.png", "img2.png", "img1.jpg", "notes.txt"):
        _png(tmp_path / name) if name.endswith(("png", "jpg")) else (tmp_path / name).write_text("x")
    _png(tmp_path / "sub" / "deep.png")
    assert _names(open_source(tmp_path)) == ["img1.jpg", "img2.png", "img10.png"]
    assert _names(open_source(tmp_path, recursive=True))[-1] == "sub/deep.png"


def test_glob_list_file_and_single_image(tmp_path):
    a, b = _png(tmp_path / "x" / "a.png"), _png(tmp_path / "x" / "b.png")
    assert _names(open_source(str(tmp_path / "x" / "*.png"))) == ["a.png", "b.png"]
    (tmp_path / "list.txt").write_text(f"# comment\nx/b.png\n{a}\n")
    assert _names(open_source(tmp_path / "list.txt")) == ["b.png", "a.png"]
    with open_source(b) as s:
        frames = list(s)
    assert s.kind == "images" and s.total == 1 and frames[0].image.shape == (20, 30, 3)


@pytest.mark.parametrize(
    "spec, message",
    [("missing.png", "no such file"), ("empty_dir", "no images found"), ("nomatch/*.png", "no images found")],
)
def test_bad_sources_name_the_problem(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(SourceError, match=message):
        open_source(spec)


def test_list_file_rejects_non_images(tmp_path):
    (tmp_path / "l.txt").write_text("clip.mp4\n")
    with pytest.raises(SourceError, match="not an image path"):
        open_source(tmp_path / "l.txt")


def test_corrupt_image_is_skipped_and_listed(tmp_path):
    _png(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with open_source(tmp_path) as s:
        frames = list(s)
    assert [f.meta.relative_path for f in frames] == ["good.png"]
    assert len(s.failures) == 1 and "bad.png" in s.failures[0]


def test_sixteen_bit_grey_and_rgba_and_palette(tmp_path):
    grey16 = np.full((8, 9), 65535 // 2, np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    out = read_image_file(tmp_path / "g16.png")
    assert out.shape == (8, 9, 3) and out.dtype == np.uint8 and abs(int(out[0, 0, 0]) - 128) <= 1
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 1], rgba[..., 3] = 200, 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_image_file(tmp_path / "a.png")[0, 0].tolist() == [0, 200, 0]
    Image.fromarray(np.full((4, 4), 77, np.uint8), "L").convert("P").save(tmp_path / "p.png")
    assert read_image_file(tmp_path / "p.png")[0, 0].tolist() == [77, 77, 77]


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :5] = 255  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.fromarray(img).save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = read_image_file(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert out[:5].mean() > 200 and out[-5:].mean() < 50  # the white band is now on top


def test_several_image_files_are_one_source_in_the_order_given(tmp_path):
    """What the shell makes of an unquoted glob: one image source of those files, in order."""
    b, a = _png(tmp_path / "b.png"), _png(tmp_path / "sub" / "a.jpg")
    source = open_source([str(b), str(a)])
    assert source.kind == "images" and source.total == 2 and _names(source) == ["b.png", "a.jpg"]
    assert _names(open_source([str(a)])) == ["a.jpg"]  # one element: the same as that source alone
    assert _names(open_source([str(tmp_path / "sub")])) == ["a.jpg"]


@pytest.mark.parametrize("other, message", [("clip.mp4", "clip.mp4: not an image file"),
                                            ("sub", "sub: a folder"), ("gone.png", "gone.png: no such file")])
def test_several_sources_must_all_be_image_files(tmp_path, monkeypatch, other, message):
    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "a.png"), _png(tmp_path / "sub" / "c.png")
    (tmp_path / "clip.mp4").write_bytes(b"\0")
    with pytest.raises(SourceError, match=message):
        open_source(["a.png", other])
