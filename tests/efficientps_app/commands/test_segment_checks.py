"""``segment`` fails fast and in one line: inputs and output locations are checked before torch is imported or
the model loaded; an output that fails mid-run (full disk) is one line too, and leaves no file behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientps_app.cli import main
from tests.media import make_video

REPO = Path(__file__).resolve().parents[3]


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(path)
    return path


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def _junk_weights(tmp_path: Path) -> Path:
    """Weights that fail to load: an error about them means the model was being loaded."""
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights")
    return junk


@pytest.mark.parametrize("output", ["afile/out", "afile/deeper/out.mp4"])
def test_an_output_through_a_file_is_refused_before_the_model_loads(tmp_path, capsys, output):
    (tmp_path / "afile").write_text("I am a file")
    src = _image(tmp_path / "in" / "a.png") if not output.endswith(".mp4") else \
        make_video(tmp_path / "clip.mp4", frames=2, audio=None)
    code = main(["segment", str(src), "-o", str(tmp_path / output), "--weights", str(_junk_weights(tmp_path))])
    line = _one_line(capsys.readouterr().err)
    assert code == 1 and f"{tmp_path / 'afile'} is a file, not a folder" in line and "junk" not in line


def test_a_read_only_output_folder_is_refused_before_the_model_loads(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes here")
        src = _image(tmp_path / "in" / "a.png")
        code = main(["segment", str(src), "-o", str(locked / "out"), "--weights", str(_junk_weights(tmp_path))])
        line = _one_line(capsys.readouterr().err)
        assert code == 1 and f"the folder {locked} is not writable" in line
    finally:
        locked.chmod(0o755)


def test_a_full_disk_while_writing_images_is_one_line_and_leaves_nothing(tiny_weights, tmp_path, capsys,
                                                                         monkeypatch):
    """cv2 says only "False" when a write fails (ENOSPC): the half-written file and the earlier overlays go."""
    import efficientps_app.outputs.files as files

    for i in range(3):
        _image(tmp_path / "in" / f"img{i}.png")
    real, calls = files.cv2.imwrite, []

    def imwrite(path, image, params=()):
        calls.append(path)
        if len(calls) < 2:
            return real(path, image, params)
        Path(path).write_bytes(b"\x89PNG half")  # what a full disk leaves
        return False

    monkeypatch.setattr(files.cv2, "imwrite", imwrite)
    code = main(["segment", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights), "-q"])
    line = _one_line(capsys.readouterr().err)
    assert code == 1 and "could not write the image (is the disk full?)" in line
    assert len(calls) == 2 and [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_full_disk_while_writing_a_video_is_one_line_and_leaves_nothing(tiny_weights, tmp_path, capsys,
                                                                          monkeypatch):
    from efficientps_app.outputs.video_writer import VideoWriter

    src = make_video(tmp_path / "clip.mp4", frames=4, audio=None)
    real = VideoWriter.write

    def write(self, image, meta):
        real(self, image, meta)
        if self.frames == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self._tmp))

    monkeypatch.setattr(VideoWriter, "write", write)
    out = tmp_path / "out"
    code = main(["segment", str(src), "-o", str(out / "o.mp4"), "--weights", str(tiny_weights), "-q"])
    line = _one_line(capsys.readouterr().err)
    assert code == 1 and "No space left on device" in line and ".o.partial.mp4" in line
    assert [p for p in out.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("case", ["missing source", "output through a file"])
def test_the_error_path_does_not_import_torch(tmp_path, case):
    """What the user waits for: ``segment /no/such/file.jpg`` answers before torch (seconds) is imported."""
    (tmp_path / "afile").write_text("x")
    args = ["segment", str(tmp_path / "no" / "such.jpg")] if case == "missing source" else \
        ["segment", str(_image(tmp_path / "a.png")), "-o", str(tmp_path / "afile" / "out")]
    script = ("import sys; from efficientps_app.cli import main; code = main(sys.argv[1:]); "
              "print(code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stdout.split() == ["1", "False"], done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
