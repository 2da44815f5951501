"""The CLI: version, doctor, model-info, and the one-line error funnel with documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientps_app import __version__
from efficientps_app.cli import main
from model.weights import save_model


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"efficientps {__version__}"


def test_doctor_reports_every_component(capsys):
    code, out, _ = run(["doctor", "--json"], capsys)
    names = {c["name"]: c for c in json.loads(out)}
    assert {"torch", "CUDA", "torchvision", "timm", "onnxruntime", "PyAV", "Qt (PySide6)", "inplace_abn"} <= set(names)
    assert names["torch"]["status"] == "ok" and code == 0


def test_doctor_reports_a_missing_optional_package(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, out, _ = run(["doctor", "--json"], capsys)
    ort = next(c for c in json.loads(out) if c["name"] == "onnxruntime")
    assert ort["status"] == "missing" and code == 0  # optional: reported, not fatal


def test_model_info_counts_parameters(capsys):
    code, out, _ = run(["model-info", "b5-cityscapes", "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and abs(info["total"] - 42.99e6) < 0.05e6
    assert info["modules"]["backbone"] == 23_148_912
    assert sum(info["modules"].values()) == info["total"]
    code, out, _ = run(["model-info", "tiny"], capsys)
    assert code == 0 and "semantic_head" in out and "total" in out


def test_model_info_reads_a_weights_file(tiny_model, tmp_path: Path, capsys):
    path = save_model(tiny_model, tmp_path / "w.safetensors")
    code, out, _ = run(["model-info", str(path), "--json"], capsys)
    assert code == 0 and json.loads(out)["total"] == sum(p.numel() for p in tiny_model.parameters())


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["model-info", "b9"], 1, "unknown preset or weights file 'b9'"),
        (["model-info"], 2, "Missing argument"),
        (["model-info", "tiny", "--bogus"], 2, "No such option: --bogus"),
        (["no-such-command"], 2, "No such command"),
    ],
)
def test_errors_are_one_line_on_stderr_with_documented_codes(args, code, text, capsys):
    got, out, err = run(args, capsys)
    assert got == code and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and text in err


def test_corrupt_weights_file_is_one_line(tmp_path: Path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    code, _, err = run(["model-info", str(bad)], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


def test_console_script_runs_in_a_subprocess(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "efficientps_app", "model-info", "nope"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and proc.stdout == ""
    proc = subprocess.run([sys.executable, "-m", "efficientps_app", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("efficientps ")


def _command_on_cpu(command: str, weights: Path, tmp_path: Path, monkeypatch) -> list[str]:
    """``command`` with W = the weights, IN = a folder with an image and DATA = a synthetic split, in
    ``tmp_path``; skipped on a machine with CUDA (these tests are about what a CPU-only machine says)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device 0 and --half run as asked")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "IN").mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "IN" / "a.png")
    if "DATA" in command:
        assert main(["data", "synth", "DATA", "--train", "1", "--val", "1", "--size", "64", "128"]) == 0
        assert main(["data", "prepare", "DATA"]) == 0
    return [str(weights) if a == "W" else a for a in command.split()]


@pytest.mark.parametrize("command", ["segment IN --weights W", "view IN --screenshot shot.png --weights W",
                                     "evaluate --data DATA --weights W",
                                     "export-onnx --weights W", "train --data DATA --epochs 1"])
def test_every_command_reads_device_the_same_way(command, tiny_weights, tmp_path, capsys, monkeypatch):
    """One --device reader: 'evaluate --device 0' was an internal error (Invalid device string: '0')."""
    args = _command_on_cpu(command, tiny_weights, tmp_path, monkeypatch)
    for device, message in (("0", "--device 0: CUDA is not available here"),
                            ("tpu", "--device 'tpu': expected auto, cpu, cuda, cuda:N or N")):
        capsys.readouterr()
        code, _, err = run([*args, "--device", device], capsys)
        assert code == 1 and message in err and "internal error" not in err, err
        assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("command", ["segment IN -o OUT --weights W", "view IN/a.png --screenshot shot.png --weights W",
                                     "evaluate --data DATA --weights W"])
def test_every_command_prints_the_backends_notes(command, tiny_weights, tmp_path, capsys, monkeypatch):
    """The backend decides the precision; every command says so ('view --half' on a CPU said nothing)."""
    args = _command_on_cpu(command, tiny_weights, tmp_path, monkeypatch)
    code, _, err = run([*args, "--half"], capsys)
    assert code == 0, err
    assert "note: --half needs CUDA; running in fp32 on the CPU" in err


def test_the_predictor_reads_precision_and_device_back_from_the_backend(tiny_weights):
    from efficientps_app.inference.predictor import Predictor

    predictor = Predictor(tiny_weights, device="cpu", half=True)
    assert (predictor.precision, predictor.device.type) == ("fp32", "cpu") == (predictor.backend.precision, "cpu")
    assert predictor.notes == ["--half needs CUDA; running in fp32 on the CPU"]


def test_one_console_for_every_command():
    """Every command prints through efficientps_app.console (one stdout, one stderr)."""
    import ast

    package = Path(__file__).resolve().parents[2] / "efficientps_app"
    makers = [str(p.relative_to(package)) for p in package.rglob("*.py")
              if any(isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "Console"
                     for n in ast.walk(ast.parse(p.read_text())))]
    assert makers == ["console.py"]
