"""The demo weights on real input: a warning that names the next step, also through an ONNX export of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from efficientps_app.assets import DEMO_VIDEO, DEMO_WEIGHTS, demo_notice
from efficientps_app.cli import main

NEXT = "efficientps weights fetch cityscapes"


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "street.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(path)
    return path


def _err(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def test_the_rule():
    synthetic = "synthetic scenes (make demo-assets)"
    assert demo_notice(None, "x.mp4") is None and demo_notice("Cityscapes", "x.mp4") is None
    assert demo_notice(synthetic, DEMO_VIDEO)[0] == "note"
    for source in ("street.mp4", 0, "rtsp://camera/stream", None):
        kind, text = demo_notice(synthetic, source)
        assert kind == "warning" and NEXT in text and "--weights cityscapes" in text


def test_segment_warns_on_other_input_and_notes_on_the_demo_drive(photo, tmp_path, capsys):
    err = _err(["segment", str(photo), "-o", str(tmp_path / "a")], capsys)
    assert "warning:" in err and NEXT in err and str(photo) in err
    err = _err(["segment", str(photo), "-o", str(tmp_path / "b"), "--quiet"], capsys)
    assert "warning:" in err and NEXT in err  # a warning is not silenced by --quiet
    err = _err(["segment", str(DEMO_VIDEO), "-o", str(tmp_path / "c.mp4"), "--max-frames", "1"], capsys)
    assert "note:" in err and "warning:" not in err and NEXT in err


def test_other_weights_get_no_demo_warning(photo, tiny_weights, tmp_path, capsys):
    err = _err(["segment", str(photo), "-o", str(tmp_path / "a"), "--weights", str(tiny_weights)], capsys)
    assert NEXT not in err


def test_an_onnx_export_of_the_demo_weights_still_warns(photo, tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the [cpu] or [gpu] extra)")
    from efficientps_app.inference.onnx_format import read_onnx_metadata

    weights = shutil.copy(DEMO_WEIGHTS, tmp_path / "demo.safetensors")
    _err(["export-onnx", "--weights", str(weights), "--no-parity"], capsys)
    onnx = Path(weights).with_suffix(".onnx")
    assert read_onnx_metadata(onnx)["trained_on"].startswith("synthetic scenes")
    err = _err(["segment", str(photo), "-o", str(tmp_path / "a"), "--weights", str(onnx)], capsys)
    assert "warning:" in err and NEXT in err
