"""``doctor``'s CUDA agreement between onnxruntime-gpu and torch, from wheel requirements and build info."""

from __future__ import annotations

import json

import pytest

from efficientps_app import doctor
from efficientps_app.cli import main

# Requires-Dist lines as PyPI's wheels declare them (onnxruntime-gpu 1.23.2, 1.27.0 and 1.31.1; torch 2.14.1).
ORT_1_23 = ["numpy>=1.21.6", 'nvidia-cuda-runtime-cu12~=12.0; extra == "cuda"', 'nvidia-cufft-cu12~=11.0; extra == "cuda"',
            'nvidia-cudnn-cu12~=9.0; extra == "cudnn"']
ORT_1_27 = ['nvidia-cuda-runtime-cu13~=13.0; extra == "cuda"', 'nvidia-cudnn-cu13~=9.0; extra == "cudnn"']
ORT_1_31 = ['nvidia-cuda-nvrtc~=13.0; extra == "cuda"', 'nvidia-cuda-runtime~=13.0; extra == "cuda"',
            'nvidia-cufft~=12.0; extra == "cuda"', 'nvidia-curand~=10.0; extra == "cuda"',
            'nvidia-cudnn-cu13~=9.0; extra == "cudnn"']
TORCH_2_14 = ['cuda-toolkit[cublas,cudart,cufft]==13.0.3; platform_system == "Linux"', "filelock",
              'nvidia-cudnn-cu13==9.24.0.43; platform_system == "Linux"']


@pytest.mark.parametrize(("requirements", "major"), [
    (ORT_1_23, 12), (ORT_1_27, 13), (ORT_1_31, 13), (TORCH_2_14, 13),
    (["numpy>=1.21.6", "protobuf"], None),  # a CPU build names no CUDA wheel
    (ORT_1_23 + ORT_1_31, None),  # two majors: unknown, not a guess
])
def test_cuda_major_is_read_off_the_wheel_requirements(requirements, major):
    assert doctor.cuda_major(requirements) == major


def test_cuda_mismatch_only_when_both_majors_are_known_and_differ():
    assert doctor.cuda_mismatch(13, "13.0") is None
    assert doctor.cuda_mismatch(None, "13.0") is None
    assert doctor.cuda_mismatch(12, None) is None  # torch is a CPU build: nothing to share
    reason = doctor.cuda_mismatch(12, "13.0")
    assert reason and "CUDA 12" in reason and "CUDA 13.0" in reason


def test_doctor_warns_when_onnxruntime_gpu_and_torch_disagree(capsys, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(doctor, "_onnxruntime_cuda_major", lambda: 12)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert main(["doctor", "--json"]) == 0
    check = next(c for c in json.loads(capsys.readouterr().out) if c["name"] == "onnxruntime")
    assert check["status"] == "warn" and "built for CUDA 12, torch for CUDA 13.0" in check["detail"]
    monkeypatch.setattr(doctor, "_onnxruntime_cuda_major", lambda: 13)
    assert main(["doctor", "--json"]) == 0
    check = next(c for c in json.loads(capsys.readouterr().out) if c["name"] == "onnxruntime")
    assert check["status"] == "ok", check


def test_onnxruntime_cuda_major_is_none_for_the_cpu_wheel():
    pytest.importorskip("onnxruntime")
    try:
        doctor.metadata.version("onnxruntime-gpu")
        pytest.skip("onnxruntime-gpu is installed here")
    except doctor.metadata.PackageNotFoundError:
        assert doctor._onnxruntime_cuda_major() is None
