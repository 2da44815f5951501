"""Half precision on the CPU: the dtype mistakes of the CUDA fp16 paths, caught without a GPU.

Two fp16 paths exist: ``--half`` with PyTorch runs the network under fp16 autocast (CUDA), and an fp16
ONNX export traces the whole model in half precision (``model.half()``). Both are run here on the CPU
(PyTorch has fp16 CPU kernels for the layers) and compared with fp32 within the tolerances below.

Tolerances (stated once, for the bundled demo weights on synthetic 256x512 scenes):

- semantic logits: max abs error under 2 % of the logits' range (fp16 keeps ~3 significant digits);
- detections: of the fp32 detections with score > 0.7, >= 95 % have an fp16 one of their class at box
  IoU > 0.95 and all have one at IoU > 0.5 (measured on 8 scenes: 54 of 55 above 0.99 under autocast,
  one at 0.76; all 55 above 0.99 for the half model);
- panoptic category per pixel: >= 99 % of the pixels agree.

Box arithmetic (decode, clip, IoU, NMS) runs in float32 whatever the network's precision: at 2048
pixels fp16 rounds coordinates to 2 pixels.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from efficientps_app.assets import DEMO_WEIGHTS
from model.boxes import batched_nms, decode_boxes
from model.fusion import fuse_panoptic
from model.roi_align import LevelRoIAlign
from model.weights import load_model
from train.synth import render_scene

SEM_TOLERANCE, BOX_IOU, MATCHED, MIN_SCORE, PIXEL_AGREEMENT = 0.02, 0.95, 0.95, 0.7, 0.99


@pytest.fixture(scope="module")
def demo_model():
    if not DEMO_WEIGHTS.is_file():
        pytest.skip(f"the bundled demo weights are missing ({DEMO_WEIGHTS})")
    return load_model(DEMO_WEIGHTS, device=torch.device("cpu")).eval()


@pytest.fixture(scope="module")
def scenes() -> torch.Tensor:
    images = [render_scene(256, 512, seed)[0] for seed in (101, 102, 103, 104)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255)


def test_box_arithmetic_is_float32_whatever_the_network_precision():
    rois = torch.tensor([[1500.0, 300.0, 2040.0, 900.0], [10.0, 20.0, 30.0, 25.0]])
    deltas = torch.tensor([[0.013, -0.021, 0.11, -0.07], [0.5, 0.25, -0.3, 0.2]])
    reference = decode_boxes(deltas.half().float(), rois.half().float(), (1.0, 1.0, 1.0, 1.0), (1024, 2048))
    decoded = decode_boxes(deltas.half(), rois.half(), (1.0, 1.0, 1.0, 1.0), (1024, 2048))
    assert decoded.dtype == torch.float32
    torch.testing.assert_close(decoded, reference)
    keep = batched_nms(decoded.half(), torch.tensor([0.9, 0.8]).half(), torch.tensor([0, 0]), 0.5)
    assert keep.tolist() == [0, 1]


def test_roi_align_pools_half_features_with_float32_boxes():
    strides = {"p4": 4, "p8": 8}
    pool = LevelRoIAlign(strides, 7)
    torch.manual_seed(0)
    feats = {"p4": torch.randn(1, 8, 64, 128), "p8": torch.randn(1, 8, 32, 64)}
    boxes = [torch.tensor([[10.0, 12.0, 200.0, 150.0], [4.0, 4.0, 40.0, 30.0]])]
    reference = pool(feats, boxes)
    pooled = pool({k: v.half() for k, v in feats.items()}, boxes)
    assert pooled.dtype == torch.float16
    torch.testing.assert_close(pooled.float(), reference, atol=5e-3, rtol=5e-3)


@torch.inference_mode()
def test_fusion_of_half_inputs_equals_fusion_of_the_same_values_in_float32(demo_model, scenes):
    raw = demo_model.forward_raw(scenes[:1])
    assert raw.boxes.shape[0] > 0, "the demo weights find things in a synthetic scene"
    half = [t.half() for t in (raw.sem_logits[0], raw.boxes, raw.scores, raw.mask_logits)]
    cfg, stuff = demo_model.cfg.fusion, demo_model.cfg.num_stuff
    from_half = fuse_panoptic(half[0], half[1], raw.labels, half[2], half[3], cfg, stuff)
    from_float = fuse_panoptic(*(t.float() for t in half[:2]), raw.labels, *(t.float() for t in half[2:]), cfg, stuff)
    assert torch.equal(from_half.panoptic, from_float.panoptic) and from_half.segments == from_float.segments


def _compare(reference, raw, index: int) -> list[float]:
    """Check the semantic logits of image ``index``; the best same-class IoU of each confident fp32
    detection with the fp16 ones."""
    sem_ref, sem = reference.sem_logits[index], raw.sem_logits[index].float()
    assert (sem - sem_ref).abs().max() <= SEM_TOLERANCE * (sem_ref.max() - sem_ref.min())
    assert raw.boxes.dtype == torch.float32, "boxes are decoded in float32"
    ref_sel = (reference.batch_index == index) & (reference.scores > MIN_SCORE)
    sel = raw.batch_index == index
    iou = box_iou(reference.boxes[ref_sel], raw.boxes[sel].float())
    same_class = reference.labels[ref_sel][:, None] == raw.labels[sel][None, :]
    return (iou * same_class).max(1).values.tolist() if iou.shape[1] else [0.0] * iou.shape[0]


def _check_detections(ious: list[float]) -> None:
    assert ious, "the demo weights find confident things in the synthetic scenes"
    assert sum(v > BOX_IOU for v in ious) >= MATCHED * len(ious) and min(ious) > 0.5, sorted(ious)[:5]


def _agreement(model, reference, raw, index: int) -> float:
    """Share of the pixels whose panoptic category is the same in both (void = 0)."""
    a = model.fuse(reference, index)
    b = model.fuse(raw.__class__(*(t.float() if t.is_floating_point() else t for t in raw)), index)
    cat_a = torch.tensor([0, *(s.category_id for s in a.segments)])[a.panoptic.long()]
    cat_b = torch.tensor([0, *(s.category_id for s in b.segments)])[b.panoptic.long()]
    return float((cat_a == cat_b).float().mean())


@torch.inference_mode()
def test_the_network_under_fp16_autocast_matches_fp32(demo_model, scenes):
    """``segment --half`` with PyTorch: fp16 autocast around ``forward_raw``."""
    reference = demo_model.forward_raw(scenes)
    with torch.autocast("cpu", dtype=torch.float16):
        raw = demo_model.forward_raw(scenes)
    ious = []
    for index in range(scenes.shape[0]):
        ious += _compare(reference, raw, index)
        assert _agreement(demo_model, reference, raw, index) >= PIXEL_AGREEMENT
    _check_detections(ious)


@torch.inference_mode()
def test_the_half_model_matches_fp32(demo_model, scenes):
    """The graph of an fp16 ONNX export: every weight and activation in half precision."""
    reference = demo_model.forward_raw(scenes)
    raw = copy.deepcopy(demo_model).half().forward_raw(scenes.half())
    assert raw.sem_logits.dtype == torch.float16
    ious = []
    for index in range(scenes.shape[0]):
        ious += _compare(reference, raw, index)
        assert _agreement(demo_model, reference, raw, index) >= PIXEL_AGREEMENT
    _check_detections(ious)
