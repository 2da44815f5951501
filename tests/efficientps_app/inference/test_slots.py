"""Fixed-size detection slots in the exported graph: a blank frame (no detections) and a crowded one (the
maximum) in every backend, the graph free of empty tensors and of control flow, and ``segment --backend
openvino`` against PyTorch on the synthetic val scenes with the demo weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the [cpu] or [gpu] extra)")

from efficientps_app.assets import DEMO_WEIGHTS  # noqa: E402
from efficientps_app.cli import main  # noqa: E402
from efficientps_app.inference.backends import load_backend  # noqa: E402
from efficientps_app.inference.export import ExportSpec, export_onnx  # noqa: E402
from efficientps_app.inference.parity import parity_report, segment_map_agreement  # noqa: E402
from model.weights import load_model, save_model  # noqa: E402
from train.synth import render_scene  # noqa: E402

BLANK = np.full((128, 256, 3), 128, np.uint8)
CROWDED = render_scene(128, 256, seed=11)[0]
K = 100  # detections per image of the tiny preset


def _needs(module: str) -> None:
    if module == "openvino":
        pytest.importorskip("openvino", reason="OpenVINO is not installed (the [openvino] extra)")


@pytest.fixture(scope="module")
def crowded_weights(tmp_path_factory) -> Path:
    """The demo weights with score threshold 0: every frame fills all K slots."""
    model = load_model(DEMO_WEIGHTS)
    cfg = model.cfg
    model.cfg = dataclasses.replace(cfg, instance=dataclasses.replace(cfg.instance, score_thresh=0.0))
    model.roi_heads.score_thresh = 0.0
    return save_model(model, tmp_path_factory.mktemp("slots") / "crowded.safetensors")


@pytest.fixture(scope="module")
def exports(crowded_weights) -> dict[Path, Path]:
    """weights -> its dynamic-size export, for the demo weights and the crowded ones."""
    out = crowded_weights.parent
    return {w: export_onnx(load_model(w), out / f"{w.stem}.onnx", ExportSpec())
            for w in (DEMO_WEIGHTS, crowded_weights)}


@pytest.mark.parametrize("kind", ["torch", "onnx", "openvino"])
def test_blank_and_crowded_frames_in_every_backend(kind, crowded_weights, request):
    _needs(kind)
    for weights, image, expected in ((DEMO_WEIGHTS, BLANK, 0), (crowded_weights, CROWDED, K)):
        path = weights if kind == "torch" else request.getfixturevalue("exports")[weights]
        backend = load_backend(path, "cpu", False, None, kind)
        r = parity_report(load_model(weights), backend, {"frame": image})["frame"]
        assert r["detections_torch"] == r["detections_backend"] == expected
        assert r["detections_matched"] == expected
        assert r["panoptic_pixel_agreement"] >= 0.995


def _every_value(path: Path, image: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """Every intermediate tensor of the graph on one image (ONNX Runtime): name -> (op type, value)."""
    import onnx
    import onnxruntime as ort

    proto = onnx.load(str(path))
    producer = {out: node.op_type for node in proto.graph.node for out in node.output if out}
    listed = {o.name for o in proto.graph.output}
    proto.graph.output.extend(onnx.ValueInfoProto(name=name) for name in producer if name not in listed)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).numpy()
    values = session.run(None, {"images": x})
    return {o.name: (producer.get(o.name, "output"), np.asarray(v)) for o, v in zip(session.get_outputs(), values)}


def test_the_graph_has_no_empty_tensor_and_no_control_flow(crowded_weights, exports):
    import onnx

    for weights, image, expected in ((DEMO_WEIGHTS, BLANK, 0), (crowded_weights, CROWDED, K)):
        ops = {node.op_type for node in onnx.load(str(exports[weights])).graph.node}
        assert not ops & {"If", "Loop", "Scan"} and "NonMaxSuppression" in ops
        values = _every_value(exports[weights], image)
        # the shape of a scalar is the one empty value a graph always has (a shape, not data)
        empty = [name for name, (op, v) in values.items() if v.size == 0 and op not in ("Shape", "Constant")]
        assert empty == []
        assert int(values["num_detections"][1][0]) == expected
        assert values["boxes"][1].shape == (1, K, 4) and values["mask_logits"][1].shape == (1, K, 28, 28)
        assert (values["labels"][1][0, expected:] == -1).all() and (values["scores"][1][0, expected:] == 0).all()


def _panoptic_maps(folder: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """segment --save-panoptic output -> per image (class map, segment id map)."""
    data = json.loads((folder / "panoptic.json").read_text())
    maps = {}
    for ann in data["annotations"]:
        png = np.asarray(Image.open(folder / "panoptic" / ann["file_name"])).astype(np.int64)
        ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
        table = {s["id"]: s["category_id"] for s in ann["segments_info"]}
        classes = np.vectorize(lambda i: table.get(int(i), -1))(ids)
        maps[ann["image_id"]] = (torch.from_numpy(classes), torch.from_numpy(ids))
    return maps


def _segment(source: Path, weights: Path, out: Path, *backend: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    args = ["segment", str(source), "-o", str(out), "--weights", str(weights), "--save-panoptic", "-r", "-q",
            "--device", "cpu", *backend]
    assert main(args) == 0
    return _panoptic_maps(out)


def test_segment_with_openvino_matches_pytorch(crowded_weights, exports, tmp_path):
    """The synthetic val scenes (``data synth``) and a blank frame with the demo weights, and a crowded
    frame (all K slots filled), through ``segment``: PyTorch and OpenVINO agree on >= 99.5 % of pixels."""
    _needs("openvino")
    data = tmp_path / "synth"
    assert main(["data", "synth", str(data), "--train", "0", "--val", "3", "--size", "128", "256"]) == 0
    source = data / "leftImg8bit" / "val"
    Image.fromarray(BLANK).save(source / "blank.png")
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    Image.fromarray(CROWDED).save(crowded / "crowded.png")
    for src, weights in ((source, DEMO_WEIGHTS), (crowded, crowded_weights)):
        ref = _segment(src, weights, tmp_path / f"{src.name}_torch")
        got = _segment(src, exports[weights], tmp_path / f"{src.name}_ov", "--backend", "openvino")
        assert set(got) == set(ref) and len(ref) == (4 if src == source else 1)
        for name in ref:
            assert segment_map_agreement(*ref[name], *got[name]) >= 0.995, name
