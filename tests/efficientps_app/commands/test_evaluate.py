"""``evaluate --weights`` runs the path ``segment`` runs: an .onnx model scores what its .safetensors scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from efficientps_app.assets import DEMO_WEIGHTS
from efficientps_app.cli import main


@pytest.fixture(scope="module")
def synth_val(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("eval") / "cs"
    assert main(["data", "synth", str(data), "--train", "0", "--val", "3", "--size", "128", "256", "--seed", "4"]) == 0
    assert main(["data", "prepare", str(data), "--split", "val"]) == 0
    return data


def _pq(data: Path, weights: Path, out: Path, *extra: str) -> dict:
    assert main(["evaluate", "--data", str(data), "--weights", str(weights), "--device", "cpu", "--json", str(out),
                 *extra]) == 0
    return json.loads(out.read_text())


def test_an_onnx_model_scores_what_its_safetensors_scores(synth_val, tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the [cpu] or [gpu] extra)")
    from model.weights import load_model
    from train.data import find_samples
    from train.evaluate import evaluate_model

    onnx = tmp_path / "demo.onnx"
    assert main(["export-onnx", "--weights", str(DEMO_WEIGHTS), "-o", str(onnx), "--no-parity"]) == 0
    torch_results = _pq(synth_val, DEMO_WEIGHTS, tmp_path / "t.json")
    onnx_results = _pq(synth_val, onnx, tmp_path / "o.json")
    assert torch_results["All"]["pq"] > 0.3  # trained weights: a score worth comparing
    for group in ("All", "Things", "Stuff"):
        assert onnx_results[group]["pq"] == pytest.approx(torch_results[group]["pq"], abs=1e-3), group
    model = load_model(DEMO_WEIGHTS)  # what training evaluates with is the same path again
    loop = evaluate_model(model, find_samples(synth_val, "val"), model.cfg.classes, torch.device("cpu"))
    assert loop["All"]["pq"] == pytest.approx(torch_results["All"]["pq"], abs=1e-9)


def test_evaluate_at_an_inference_size(synth_val, tmp_path, capsys):
    small = _pq(synth_val, DEMO_WEIGHTS, tmp_path / "s.json", "--imgsz", "128")
    assert 0.0 <= small["All"]["pq"] <= 1.0 and small["All"]["n"] > 0
