"""The parity check of an exported model: the same images through PyTorch and another backend, compared
on raw outputs and on the fused panoptic maps (the same fusion function for both)."""

from __future__ import annotations

import numpy as np
import torch

from model.efficientps import EfficientPS
from model.outputs import RawOutputs, segment_table
from model.transform import InferenceTransform


def parity_report(model: EfficientPS, backend, images: dict[str, np.ndarray]) -> dict:
    """Compare PyTorch and another backend on named RGB uint8 images, both through the shared inference
    transform (letterboxed into a fixed-size model as ``segment`` does) and the same fusion function.

    Returns per image: max |difference| of the semantic logits, detections of each side and how many
    match (same class, box IoU > 0.9), and the share of panoptic pixels that agree up to segment renumbering.
    """
    report = {}
    for name, image in images.items():
        transform = InferenceTransform.plan(image.shape[:2], model.cfg.pixel_mean, fixed=backend.input_size)
        x = transform.to_batch([image])
        with torch.inference_mode():
            ref = model.forward_raw(x.to(next(model.parameters()).device))
        ref = transform.crop(RawOutputs(*(t.cpu() for t in ref)))
        got = backend(x.repeat(backend.batch, 1, 1, 1) if backend.batch > 1 else x)
        sel = got.batch_index == 0
        got = transform.crop(RawOutputs(got.sem_logits[:1], *(t[sel] for t in got[1:])))
        a, b = (transform.restore(model.fuse(raw, 0)) for raw in (ref, got))
        report[name] = {
            "size": list(transform.size),
            "sem_logits_max_abs_diff": float((ref.sem_logits - got.sem_logits).abs().max()),
            "detections_torch": len(ref.boxes), "detections_backend": len(got.boxes),
            "detections_matched": matched_detections(ref, got),
            "panoptic_pixel_agreement": panoptic_agreement(a, b),
        }
    return report


def matched_detections(a: RawOutputs, b: RawOutputs) -> int:
    from torchvision.ops import box_iou

    if not len(a.boxes) or not len(b.boxes):
        return 0
    iou = box_iou(a.boxes, b.boxes) * (a.labels[:, None] == b.labels[None, :])
    return int((iou.max(1).values > 0.9).sum())


def panoptic_agreement(a, b) -> float:
    """Pixels of two :class:`~model.outputs.PanopticResult` whose (class, thing instance) agree, with
    instance ids matched by overlap."""
    def classes(r):
        return torch.from_numpy(segment_table(r, [s.category_id for s in r.segments], fill=-1))[r.panoptic.long()]

    return segment_map_agreement(classes(a), a.panoptic, classes(b), b.panoptic)


def segment_map_agreement(classes_a: torch.Tensor, ids_a: torch.Tensor, classes_b: torch.Tensor,
                          ids_b: torch.Tensor) -> float:
    """Share of pixels where two panoptic maps agree: the same class, and segment ids that correspond
    (each id of ``a`` is matched to the id of ``b`` it overlaps most).

    Args:
        classes_a, classes_b: (H, W) int class id of each pixel (any value for void, the same in both).
        ids_a, ids_b: (H, W) int segment ids (any values, e.g. COCO's RGB-encoded ids).
    """
    same_class = classes_a == classes_b
    pa, pb = (torch.unique(ids.long(), return_inverse=True)[1] for ids in (ids_a, ids_b))
    n = int(max(pa.max(), pb.max())) + 1
    joint = torch.bincount((pa * n + pb).flatten(), minlength=n * n).view(n, n)
    best = joint.argmax(1)  # each id of a mapped to the id of b it overlaps most
    consistent = best[pa] == pb
    return float((same_class & consistent).float().mean())
