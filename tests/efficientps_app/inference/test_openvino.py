"""The OpenVINO backend: precision choice, errors, what it says it runs, the doctor line, the parity row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the [cpu] or [gpu] extra)")

from efficientps_app.cli import main  # noqa: E402
from efficientps_app.errors import EfficientPSError  # noqa: E402
from efficientps_app.inference.export import ExportSpec, export_onnx  # noqa: E402
from efficientps_app.inference.openvino_backend import choose_precision  # noqa: E402
from model.weights import load_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_onnx(tiny_weights, tmp_path_factory) -> Path:
    return export_onnx(load_model(tiny_weights), tmp_path_factory.mktemp("ov") / "tiny.onnx", ExportSpec())


def test_precision_is_f32_unless_half_and_the_device_offers_it():
    assert choose_precision(False, ["BF16", "FP32"]) == ("f32", "fp32", ())
    assert choose_precision(True, ["BF16", "FP16", "FP32"]) == ("bf16", "bf16", ())
    assert choose_precision(True, ["FP16", "FP32"]) == ("f16", "fp16", ())
    ov_type, precision, notes = choose_precision(True, ["FP32", "INT8"])
    assert (ov_type, precision) == ("f32", "fp32") and "neither bf16 nor fp16" in notes[0]


def test_without_openvino_the_error_names_the_extra(tiny_onnx, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(tmp_path / "a.png")
    args = ["segment", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(tiny_onnx)]
    assert main([*args, "--backend", "openvino"]) == 1
    err = capsys.readouterr().err
    assert "efficientps[openvino]" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_wrong_files_and_devices_are_refused(tiny_weights, tiny_onnx):
    from efficientps_app.inference.backends import load_backend

    with pytest.raises(EfficientPSError, match="is a torch model; export it"):
        load_backend(tiny_weights, "cpu", False, None, "openvino")
    with pytest.raises(EfficientPSError, match="expected one of auto, torch, onnx, openvino"):
        load_backend(tiny_onnx, "cpu", False, None, "tensorrt")
    pytest.importorskip("openvino", reason="OpenVINO is not installed (the [openvino] extra)")
    with pytest.raises(EfficientPSError, match="runs on the CPU"):
        load_backend(tiny_onnx, "cuda", False, None, "openvino")


def test_the_backend_says_what_precision_runs(tiny_onnx):
    ov = pytest.importorskip("openvino", reason="OpenVINO is not installed (the [openvino] extra)")
    from efficientps_app.inference.openvino_backend import OpenVinoBackend

    f32 = OpenVinoBackend(tiny_onnx, "cpu")
    assert f32.precision == "fp32" and f32.note.endswith("(fp32)") and f32.notes == ()
    assert f32.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32  # not the CPU's bf16 default
    half = OpenVinoBackend(tiny_onnx, "cpu", half=True)
    assert half.note.endswith(f"({half.precision})")
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert half.precision == ("bf16" if "BF16" in caps else "fp16" if "FP16" in caps else "fp32")
    x = torch.rand(1, 3, 64, 96)
    a, b = f32(x), half(x)
    assert a.sem_logits.shape == b.sem_logits.shape == (1, 19, 64, 96)


def test_doctor_lists_openvino_and_its_devices(capsys):
    pytest.importorskip("openvino", reason="OpenVINO is not installed (the [openvino] extra)")
    main(["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["OpenVINO"]["status"] == "ok" and "devices: CPU" in checks["OpenVINO"]["detail"]

