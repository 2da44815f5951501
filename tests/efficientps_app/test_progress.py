"""Progress when stderr is not a terminal: whole lines, periodically, in ``segment`` and ``train`` alike."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientps_app.progress import PLAIN_EVERY_S, PlainProgress

REPO = Path(__file__).resolve().parents[2]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run_logged(args: list[str], tmp_path: Path, timeout: int = 300) -> list[str]:
    """Run the CLI in a subprocess with stderr into a file (not a terminal); the file's lines."""
    log = tmp_path / "stderr.log"
    with log.open("w") as f:
        done = subprocess.run([sys.executable, "-m", "efficientps_app", *args], stderr=f, stdout=subprocess.PIPE,
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=timeout)
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text and "…" not in text and "━" not in text  # no bar, nothing cut
    return text.splitlines()


def test_plain_lines_at_each_tenth_and_every_few_seconds(capsys):
    clock = _Clock()
    progress = PlainProgress("segmenting", 40, "frames", clock=clock)
    for i in range(1, 41):
        clock.now += 0.5
        progress.update(i)
    progress.finish()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].split()[0] for line in lines] == [f"{4 * k}/40" for k in range(1, 11)]
    assert lines[0] == "segmenting: 4/40 frames (10%), 2.00 frames/s, 0:00:18 left"
    unknown = PlainProgress("segmenting", None, "frames", clock=clock)
    for i in range(1, 100):
        clock.now += 1.0
        unknown.update(i, "x")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 99 // PLAIN_EVERY_S and lines[0].startswith("segmenting: 10 frames, 1.00 frames/s")
    assert lines[0].endswith("; x")


def test_segment_logs_progress_lines_when_stderr_is_a_file(tiny_weights, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(10):
        Image.fromarray(np.full((48, 64, 3), 20 * i, np.uint8)).save(folder / f"f{i}.png")
    lines = _run_logged(["segment", str(folder), "-o", "out", "--weights", str(tiny_weights)], tmp_path)
    progress = [line for line in lines if line.startswith("segmenting: ")]
    assert [re.match(r"segmenting: (\d+)/10 frames \((\d+)%\), [\d.]+ frames/s, \d+:\d\d:\d\d left$", line).group(1)
            for line in progress] == [str(i) for i in range(1, 11)], lines
    assert lines.index(progress[-1]) < next(i for i, line in enumerate(lines) if "frames in" in line)


@pytest.mark.slow
def test_train_logs_whole_progress_lines_when_stderr_is_a_file(tmp_path):
    data = tmp_path / "cs"
    _run_logged(["data", "synth", str(data), "--train", "3", "--val", "1", "--size", "64", "128"], tmp_path)
    lines = _run_logged(["train", "--data", str(data), "--preset", "tiny", "--epochs", "2", "--batch-size", "1",
                         "--crop", "64", "128", "--workers", "0", "--device", "cpu", "--name", "log"], tmp_path)
    steps = [line for line in lines if line.startswith("epoch ")and " steps (" in line]
    pattern = (r"epoch ([12])/2: ([123])/3 steps \(\d+%\), [\d.]+ steps/s, \d+:\d\d:\d\d left; "
               r"loss [\d.]+ \(sem [\d.]+ mask [\d.]+\)  lr [\d.e+-]+$")
    assert [re.match(pattern, line).groups() for line in steps] == [(e, s) for e in "12" for s in "123"], lines
