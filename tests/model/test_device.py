"""The one --device reader: spellings, and what torch is given."""

from __future__ import annotations

import pytest
import torch

from model.device import DeviceError, DeviceRequest, parse_device, torch_device


@pytest.mark.parametrize("text, request_", [("auto", DeviceRequest("auto")), ("CPU", DeviceRequest("cpu")),
                                            ("cuda", DeviceRequest("cuda")), ("cuda:1", DeviceRequest("cuda", 1)),
                                            (" 0 ", DeviceRequest("cuda", 0))])
def test_spellings(text, request_):
    assert parse_device(text) == request_


@pytest.mark.parametrize("text", ["tpu", "cuda:", "cuda:x", "gpu0", "-1", "mps", ""])
def test_bad_spellings(text):
    with pytest.raises(DeviceError, match="expected auto, cpu, cuda, cuda:N or N"):
        parse_device(text)


def test_torch_devices_with_and_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert torch_device("auto") == torch.device("cpu")
    with pytest.raises(DeviceError, match="--device 0: CUDA is not available here"):
        torch_device("0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert torch_device("0") == torch.device("cuda:0") and torch_device("cuda:1") == torch.device("cuda:1")
    assert torch_device("auto", local_rank=1) == torch.device("cuda:1")
    with pytest.raises(DeviceError, match="only 2 CUDA device"):
        torch_device("2")
