"""export-onnx and the ONNX Runtime backend: parity with PyTorch, dynamic sizes, fixed batches, errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the [cpu] or [gpu] extra)")

from efficientps_app.cli import main  # noqa: E402
from efficientps_app.errors import EfficientPSError, ExportError, WeightsError  # noqa: E402
from efficientps_app.inference.export import ExportSpec, export_onnx  # noqa: E402
from efficientps_app.inference.onnx_backend import CPU, CUDA, OnnxBackend, choose_providers  # noqa: E402
from efficientps_app.inference.parity import matched_detections, parity_report  # noqa: E402
from efficientps_app.inference.predictor import Predictor  # noqa: E402
from model import PRESETS, build_efficientps  # noqa: E402
from model.device import DeviceError  # noqa: E402
from model.outputs import RawOutputs  # noqa: E402
from model.weights import load_model, save_model  # noqa: E402
from tests.media import make_video, probe  # noqa: E402


@pytest.fixture(scope="module")
def detecting_weights(tmp_path_factory) -> Path:
    """tiny with score threshold 0: every image carries 100 detections, so boxes and masks are compared too."""
    torch.manual_seed(0)
    cfg = PRESETS["tiny"]
    cfg = dataclasses.replace(cfg, instance=dataclasses.replace(cfg.instance, score_thresh=0.0))
    return save_model(build_efficientps(cfg), tmp_path_factory.mktemp("onnx") / "det.safetensors")


@pytest.fixture(scope="module")
def dynamic_onnx(detecting_weights) -> Path:
    model = load_model(detecting_weights)
    return export_onnx(model, detecting_weights.with_name("dynamic.onnx"), ExportSpec())


def _raw_torch(weights: Path, x: torch.Tensor):
    with torch.inference_mode():
        return load_model(weights).forward_raw(x)


@pytest.mark.parametrize("size", [(128, 256), (96, 160), (100, 200)])
def test_dynamic_sizes_match_pytorch(detecting_weights, dynamic_onnx, size):
    torch.manual_seed(1)
    x = torch.rand(1, 3, *size)
    ref, got = _raw_torch(detecting_weights, x), OnnxBackend(dynamic_onnx, "cpu")(x)
    assert got.sem_logits.shape == ref.sem_logits.shape
    assert (got.sem_logits - ref.sem_logits).abs().max() < 1e-3
    assert len(got.boxes) == len(ref.boxes) == 100
    assert torch.allclose(got.boxes, ref.boxes, atol=1e-2) and torch.equal(got.labels, ref.labels)
    assert (got.mask_logits - ref.mask_logits).abs().max() < 1e-3


def test_parity_report_meets_the_target(detecting_weights, dynamic_onnx):
    from train.synth import render_scene

    images = {"random": np.random.default_rng(0).integers(0, 256, (128, 256, 3), dtype=np.uint8),
              "street": render_scene(128, 256, seed=3)[0]}
    report = parity_report(load_model(detecting_weights), OnnxBackend(dynamic_onnx, "cpu"), images)
    for r in report.values():
        assert r["panoptic_pixel_agreement"] >= 0.995
        assert r["detections_matched"] == r["detections_torch"] == r["detections_backend"] == 100


def test_fixed_batch_is_cut_and_padded(detecting_weights, tmp_path):
    path = export_onnx(load_model(detecting_weights), tmp_path / "b2.onnx", ExportSpec(imgsz=(64, 128), batch=2))
    backend = OnnxBackend(path, "cpu")
    assert backend.batch == 2 and backend.input_size == (64, 128)
    torch.manual_seed(2)
    x = torch.rand(3, 3, 64, 128)  # one full chunk and one padded chunk
    got, ref = backend(x), _raw_torch(detecting_weights, x)
    assert got.sem_logits.shape[0] == 3 and (got.sem_logits - ref.sem_logits).abs().max() < 1e-3
    for i in range(3):  # same detections per image (near-tied scores may swap places)
        a, b = (RawOutputs(*(t[r.batch_index == i] if j else t for j, t in enumerate(r))) for r in (ref, got))
        assert len(a.boxes) == len(b.boxes) == matched_detections(a, b) == 100
    with pytest.raises(EfficientPSError, match="takes 64x128 images"):
        backend(torch.rand(1, 3, 32, 32))


def test_predictor_letterboxes_into_a_fixed_size_model(detecting_weights, tmp_path):
    path = export_onnx(load_model(detecting_weights), tmp_path / "fixed.onnx", ExportSpec(imgsz=(128, 128)))
    predictor = Predictor(path, device="cpu")
    assert predictor.inference_size(96, 160) == (77, 128)
    result = predictor.predict(np.random.default_rng(0).integers(0, 256, (96, 160, 3), dtype=np.uint8))
    assert result.panoptic.shape == (96, 160)
    assert set(result.panoptic.unique().tolist()) - {0} == {s.id for s in result.segments}


def test_onnx_and_torch_give_the_same_panoptic_images(detecting_weights, dynamic_onnx, tmp_path):
    from train.synth import render_scene

    image = render_scene(128, 256, seed=5)[0]
    a = Predictor(detecting_weights, device="cpu").predict(image)
    b = Predictor(dynamic_onnx, device="cpu").predict(image)
    assert (a.panoptic == b.panoptic).float().mean() >= 0.995


def test_export_and_segment_from_the_command_line(tiny_weights, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export-onnx", "--weights", str(tiny_weights), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "onnx.checker passed" in err and "lowest panoptic agreement" in err
    report = json.loads(out.with_suffix(".parity.json").read_text())
    from importlib.util import find_spec

    assert set(report) == ({"onnx", "openvino"} if find_spec("openvino") else {"onnx"})  # an OpenVINO row if installed
    for rows in report.values():
        assert set(rows) == {"random image", "synthetic street"}
        assert all(r["panoptic_pixel_agreement"] >= 0.995 for r in rows.values())
    assert main(["export-onnx", "--weights", str(tiny_weights), "-o", str(out)]) == 1  # exists
    assert "--overwrite" in capsys.readouterr().err
    video = make_video(tmp_path / "clip.mp4", frames=4, audio=None)
    assert main(["segment", str(video), "-o", str(tmp_path / "o.mp4"), "--weights", str(out), "-q"]) == 0
    assert len(probe(tmp_path / "o.mp4")["times"]) == 4
    assert main(["segment", str(video), "-o", str(tmp_path / "p.mp4"), "--weights", str(out), "--backend", "torch"]) == 1
    assert "is a onnx model" in capsys.readouterr().err


def test_bad_onnx_files_get_clear_errors(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07 not protobuf at all" * 10)
    with pytest.raises(WeightsError, match="not a readable ONNX model"):
        OnnxBackend(tmp_path / "junk.onnx", "cpu")
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "foreign.onnx")
    with pytest.raises(WeightsError, match="without efficientps metadata"):
        OnnxBackend(tmp_path / "foreign.onnx", "cpu")


def test_an_export_of_an_older_format_is_refused_with_a_re_export_hint(dynamic_onnx, tmp_path, capsys):
    import onnx

    proto = onnx.load(str(dynamic_onnx))
    meta = {p.key: p.value for p in proto.metadata_props} | {"format_version": "1"}
    onnx.helper.set_model_props(proto, meta)
    onnx.save(proto, tmp_path / "old.onnx")
    with pytest.raises(WeightsError, match="format version '1'.*re-export it with 'efficientps export-onnx'"):
        OnnxBackend(tmp_path / "old.onnx", "cpu")
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(image)
    assert main(["segment", str(image), "-o", str(tmp_path / "out"), "--weights", str(tmp_path / "old.onnx")]) == 1
    err = capsys.readouterr().err
    assert "re-export" in err and len(err.strip().splitlines()) == 1


def test_half_export_needs_cuda(detecting_weights, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot be observed")
    with pytest.raises(ExportError, match="needs a CUDA device"):
        export_onnx(load_model(detecting_weights), tmp_path / "h.onnx", ExportSpec(half=True))
    assert not list(tmp_path.iterdir())


def test_provider_choice():
    assert choose_providers("cpu", [CUDA, CPU]) == [CPU]
    assert choose_providers("auto", [CPU]) == [CPU]
    assert choose_providers("auto", [CUDA, CPU]) == [CUDA, CPU]
    assert choose_providers("cuda:1", [CUDA, CPU]) == [(CUDA, {"device_id": 1}), CPU]
    with pytest.raises(EfficientPSError, match="CPU-only wheel"):
        choose_providers("cuda", [CPU])
    with pytest.raises(DeviceError, match="expected auto"):
        choose_providers("tpu", [CPU])


@pytest.mark.gpu
def test_cuda_provider_and_fp16_export(detecting_weights, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider (install the [gpu] extra)")
    model = load_model(detecting_weights, device="cuda")
    path = export_onnx(model, tmp_path / "h.onnx", ExportSpec(half=True))
    backend = OnnxBackend(path, "cuda")
    x = torch.rand(1, 3, 128, 256, device="cuda")
    got, ref = backend(x), _raw_torch(detecting_weights, x.cpu())
    assert backend.active == CUDA and (got.sem_logits - ref.sem_logits).abs().max() < 0.1


def test_model_info_reads_an_exported_model(dynamic_onnx, capsys):
    assert main(["model-info", str(dynamic_onnx), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "ONNX: input dynamic, batch 1, fp32, opset 17" in info["source"] and info["total"] > 0
