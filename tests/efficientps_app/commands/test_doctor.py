"""``efficientps doctor`` ends with a one-line verdict: what the machine is ready for, what is missing."""

from __future__ import annotations

import sys

from efficientps_app.cli import main
from efficientps_app.commands.doctor import verdict
from efficientps_app.doctor import Check


def _checks(**status: str) -> list[Check]:
    names = {"torch": "torch", "CUDA": "CUDA", "onnxruntime": "onnxruntime", "PyAV": "PyAV", "Qt": "Qt (PySide6)"}
    return [Check(names[key], value, "detail", key == "torch") for key, value in status.items()]


def test_verdict_names_what_is_ready_and_what_is_missing():
    everything = _checks(torch="ok", CUDA="ok", onnxruntime="ok", PyAV="ok", Qt="ok")
    assert verdict(everything) == "verdict: ready for CPU, CUDA, ONNX Runtime, video, viewer"
    laptop = _checks(torch="ok", CUDA="warn", onnxruntime="warn", PyAV="ok", Qt="missing")
    assert verdict(laptop) == ("verdict: ready for CPU, ONNX Runtime (CPU), video; not for CUDA (no CUDA device), "
                               "viewer (PySide6 not installed)")
    broken = _checks(torch="missing", CUDA="missing", onnxruntime="ok", PyAV="ok", Qt="ok")
    assert verdict(broken).startswith("verdict: not ready: torch not usable")


def test_doctor_ends_with_the_verdict(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PySide6", None)
    assert main(["doctor"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("verdict: ready for CPU") and "viewer (PySide6 not installed)" in last
