"""Panoptic fusion (SPEC section 6): one pure function shared by the PyTorch and ONNX backends.

Follows the official ``EfficientPS.simple_test_mask_``:

1. ``sem`` = argmax of the semantic logits over all classes.
2. Each detection's 28x28 mask logits are pasted over the whole image as the authors do (seamseg's
   ``roi_sampling``, bilinear with zero padding, :func:`paste_mask_logits`): L_k. The logits fade to 0
   across the box edge, so an instance can reach slightly beyond its box.
3. In descending score order, an instance whose mask (sigmoid(L_k) > 0.5) is more than ``overlap_thresh``
   covered by the masks of instances kept before it is dropped (an empty mask is kept).
4. For kept instances, A_k = 4 L_k and B_k = the semantic logit of its class inside its integer box (mmdet
   +1 convention: rows int(y1 + 1) .. int(round(y2 - 1) + 1) - 1, columns alike), 0 elsewhere;
   FL_k = (sigmoid(A_k) + sigmoid(B_k)) * (A_k + B_k) (0 outside both).
5. argmax over [stuff logits, FL_1..FL_K] picks an instance or "not instance" per pixel. As in the
   official code, FL is 0 outside an instance's box and competes there too.
6. Instances that won pixels get ids 1..K' in score order. Stuff labels come from ``sem``: pixels of
   instances and of semantic thing classes are excluded, stuff classes with fewer than the (resolution
   scaled) ``min_stuff_area`` pixels become void, the rest get ids K'+1.. in class order. Thing pixels
   that no instance claimed are void (0).

Two deliberate differences from the official code, both identical to it at the Cityscapes input size
(1024x2048, a multiple of 32, where nothing is padded):

- The semantic logits arrive here *cropped* from the padded network input to the image
  (``EfficientPS.forward_raw``); the official code *stretches* the padded logits onto the image size,
  which shifts every pixel by up to the padding for sizes that are not a multiple of 32.
- ``min_stuff_area`` (2048 px at 1024x2048) is scaled with the number of pixels fused
  (:func:`stuff_area_threshold`); the official code uses 2048 at any size.

No module state, no parameters: deterministic given its inputs, on the inputs' device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from model.config import FusionConfig
from model.outputs import PanopticResult, Segment


def fuse_panoptic(
    sem_logits: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
    mask_logits: torch.Tensor,
    cfg: FusionConfig,
    num_stuff: int,
) -> PanopticResult:
    """Fuse one image's semantic and instance outputs into a panoptic map.

    Args:
        sem_logits: (C, H, W) semantic logits at the resolution to fuse at.
        boxes: (K, 4) float xyxy detection boxes in pixels of that resolution.
        labels: (K,) int64 class ids of the detections (thing train ids, >= num_stuff).
        scores: (K,) float detection scores.
        mask_logits: (K, M, M) mask logits of each detection's class.
        cfg: thresholds.
        num_stuff: number of stuff classes; ids < num_stuff are stuff.

    Returns:
        The panoptic id map, its segments and the semantic argmax.
    """
    sem_logits = sem_logits.float()
    _, h, w = sem_logits.shape
    sem = sem_logits.max(0).indices  # first maximum, like argmax (and much faster on CPU)
    best_val, best_idx = sem_logits[:num_stuff].max(0)
    occupied = torch.zeros((h, w), dtype=torch.bool, device=sem.device)
    kept: list[int] = []
    maybe_negative = (0, h, 0, w)  # where best_val can still be < 0: first the whole image
    for k in scores.float().argsort(descending=True, stable=True).tolist():
        box = boxes[k].float()
        ys, xs, pasted = paste_mask_logits(mask_logits[k].float(), box, h, w)
        mask = torch.sigmoid(pasted) > 0.5
        area = int(mask.sum())
        if area and int((mask & occupied[ys, xs]).sum()) > cfg.overlap_thresh * area:
            continue
        occupied[ys, xs] |= mask
        channel = num_stuff + len(kept)
        kept.append(k)
        maybe_negative = _compete(best_val, best_idx, maybe_negative, channel, box, pasted, ys, xs,
                                  sem_logits[int(labels[k])], cfg.mask_logit_scale)

    instance = torch.where(best_idx >= num_stuff, best_idx - num_stuff + 1, torch.zeros_like(best_idx))
    present = [int(i) for i in torch.unique(instance).tolist() if i > 0]
    info: list[tuple[int, bool, float | None]] = []  # (category, is_thing, score) per new id
    instance_ids = torch.zeros(len(kept) + 1, dtype=torch.int32, device=sem.device)
    for new_id, old in enumerate(present, start=1):
        instance_ids[old] = new_id
        info.append((int(labels[kept[old - 1]]), True, float(scores[kept[old - 1]])))

    stuff_sem = torch.where((instance > 0) | (sem >= num_stuff), torch.full_like(sem, num_stuff), sem)
    counts = torch.bincount(stuff_sem.flatten(), minlength=num_stuff + 1)[:num_stuff]
    min_area = stuff_area_threshold(cfg, h, w)
    stuff_ids = torch.zeros(num_stuff + 1, dtype=torch.int32, device=sem.device)  # last entry: thing -> void
    for c in range(num_stuff):
        if int(counts[c]) >= max(min_area, 1):
            info.append((c, False, None))
            stuff_ids[c] = len(info)
    panoptic = torch.where(instance > 0, instance_ids[instance], stuff_ids[stuff_sem])
    return PanopticResult(panoptic=panoptic, segments=describe_segments(panoptic, info), semantic=sem)


def stuff_area_threshold(cfg: FusionConfig, height: int, width: int) -> float:
    """``min_stuff_area`` scaled by the fused pixel count relative to ``stuff_area_reference``."""
    if cfg.stuff_area_reference is None:
        return float(cfg.min_stuff_area)
    ref_h, ref_w = cfg.stuff_area_reference
    return cfg.min_stuff_area * (height * width) / (ref_h * ref_w)


def paste_mask_logits(
    mask: torch.Tensor, box: torch.Tensor, height: int, width: int
) -> tuple[slice, slice, torch.Tensor]:
    """Resample an M x M logit map over its box into the image, as the authors do (seamseg's
    ``roi_sampling`` with zero padding on the inverse box of ``invert_roi_bbx``).

    The box spans ``bw = x2 - x1`` by ``bh = y2 - y1`` pixels (no +1 here). Image column j (centre j + 0.5)
    reads the mask at ``s = ((j + 0.5) / W) * (e1 - e0) + e0`` with ``e0 = (-M x1) / bw`` and
    ``e1 = (M (W - x1)) / bw``, i.e. ``s = M (j + 0.5 - x1) / bw``, in float32 in that order; rows alike.
    The value at s, t is bilinear between the mask cells around it (cell k has its centre at k + 0.5;
    neighbours ``floor(s - 0.5)`` and one more, weight ``s - (k + 0.5)``, rows then columns), cells outside
    the mask read 0. So logits fade to 0 across the box edge and an instance reaches up to about
    ``box / (2 M)`` pixels beyond its box; there is no cut at the box. An inverted box samples the mask
    mirrored. A box of zero width or height, or with a non-finite corner, pastes nothing (the authors'
    kernel gives NaN there).

    Args:
        mask: (M, M) logits over the box.
        box: (4,) float32 xyxy (the detection's inclusive corners), pixels.
        height, width: image size.

    Returns:
        Row and column slices of the region sampled (the box widened by ``|box| / M + 2`` pixels, clipped
        to the image, where every non-zero value lies) and the pasted (h', w') logits there.
    """
    box = box.to(torch.float32)
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x1 == x2 or y1 == y2:
        return slice(0, 0), slice(0, 0), mask.new_zeros((0, 0))
    m = mask.shape[-1]
    rows, cols = _span(y1, y2, m, height), _span(x1, x2, m, width)
    if rows.stop <= rows.start or cols.stop <= cols.start:
        return slice(0, 0), slice(0, 0), mask.new_zeros((0, 0))
    r_lo, r_hi, fy = _taps(rows, box[1], box[3], height, m)
    c_lo, c_hi, fx = _taps(cols, box[0], box[2], width, m)
    padded = F.pad(mask.to(torch.float32), (1, 1, 1, 1))  # cells -1 and M read 0
    # index_select, not padded[:, idx]: advanced indexing along dim 1 costs milliseconds on CPU
    across = (1 - fx) * padded.index_select(1, c_lo) + fx * padded.index_select(1, c_hi)  # (M + 2, w')
    pasted = (1 - fy)[:, None] * across.index_select(0, r_lo) + fy[:, None] * across.index_select(0, r_hi)
    return rows, cols, pasted.to(mask.dtype)


def _span(lo: float, hi: float, m: int, size: int) -> slice:
    """Pixels of one axis that a box from ``lo`` to ``hi`` can paste into: widened by |hi - lo| / m + 2."""
    lo, hi = min(lo, hi), max(lo, hi)
    margin = (hi - lo) / m + 2
    return slice(max(math.floor(lo - margin), 0), min(math.ceil(hi + margin) + 1, size))


def _taps(
    pixels: slice, start: torch.Tensor, end: torch.Tensor, size: int, m: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For image pixels ``pixels`` of one axis: indices into the zero-padded (M + 2) mask of the lower and
    upper bilinear neighbour, and the upper one's weight (the sampling rule of :func:`paste_mask_logits`)."""
    extent = end - start
    e0 = (-float(m) * start) / extent
    e1 = (float(m) * (float(size) - start)) / extent
    centres = torch.arange(pixels.start, pixels.stop, dtype=torch.float32, device=start.device) + 0.5
    s = (centres / float(size)) * (e1 - e0) + e0
    lower = torch.floor(s.double() - 0.5)  # the kernel's (float - double) arithmetic
    weight = (s.double() - (lower + 0.5)).float()
    lower = lower.clamp(min=-2, max=m).to(torch.int64)  # beyond the grid either side: reads 0 like -1 or M
    upper = lower + 1
    return lower.clamp(min=-1, max=m) + 1, upper.clamp(min=-1, max=m) + 1, weight


def _compete(
    best_val: torch.Tensor,
    best_idx: torch.Tensor,
    maybe_negative: tuple[int, int, int, int],
    channel: int,
    box: torch.Tensor,
    pasted: torch.Tensor,
    ys: slice,
    xs: slice,
    class_logits: torch.Tensor,
    scale: float,
) -> tuple[int, int, int, int]:
    """Running argmax update with instance channel FL_k, in place (the first maximum wins ties).

    FL_k is 0 outside the union of the pasted region and the semantic box, where it beats negative
    maxima. Negative maxima can only remain inside the region last updated, so that update touches
    ``maybe_negative`` rather than the whole image. Returns the region where negatives may remain.
    """
    h, w = best_val.shape
    x1, y1, x2, y2 = (float(v) for v in box)
    bx0, bx1 = min(max(int(x1 + 1), 0), w), min(max(int(round(x2 - 1) + 1), 0), w)
    by0, by1 = min(max(int(y1 + 1), 0), h), min(max(int(round(y2 - 1) + 1), 0), h)
    rects = [r for r in ((ys.start, ys.stop, xs.start, xs.stop), (by0, by1, bx0, bx1)) if r[1] > r[0] and r[3] > r[2]]
    if rects:
        r0, r1 = min(r[0] for r in rects), max(r[1] for r in rects)
        c0, c1 = min(r[2] for r in rects), max(r[3] for r in rects)
    else:
        r0 = r1 = c0 = c1 = 0
    a = best_val.new_zeros((r1 - r0, c1 - c0))
    a[ys.start - r0 : ys.stop - r0, xs.start - c0 : xs.stop - c0] = pasted * scale
    b = best_val.new_zeros(a.shape)
    if by1 > by0 and bx1 > bx0:
        b[by0 - r0 : by1 - r0, bx0 - c0 : bx1 - c0] = class_logits[by0:by1, bx0:bx1]
    fl = (torch.sigmoid(a) + torch.sigmoid(b)) * (a + b)

    region_val, region_idx = best_val[r0:r1, c0:c1].clone(), best_idx[r0:r1, c0:c1].clone()
    n0, n1, m0, m1 = maybe_negative
    neg_val, neg_idx = best_val[n0:n1, m0:m1], best_idx[n0:n1, m0:m1]
    neg_idx[neg_val < 0] = channel
    neg_val.clamp_(min=0)
    better = fl > region_val
    best_val[r0:r1, c0:c1] = torch.where(better, fl, region_val)
    best_idx[r0:r1, c0:c1] = torch.where(better, torch.full_like(region_idx, channel), region_idx)
    return (r0, r1, c0, c1)


def describe_segments(panoptic: torch.Tensor, info: list[tuple[int, bool, float | None]]) -> tuple[Segment, ...]:
    """Segments of a panoptic map whose ids are 1..len(info): ``info[id - 1]`` = (category, is_thing, score).

    Area and bbox come from the map; ids with no pixels get area 0.
    """
    if not info:
        return ()
    h, w = panoptic.shape
    ids = panoptic.flatten().long()
    n = len(info) + 1
    area = torch.bincount(ids, minlength=n)
    ys = torch.arange(h, device=ids.device).repeat_interleave(w)
    xs = torch.arange(w, device=ids.device).repeat(h)
    big = torch.full((n,), h + w, device=ids.device, dtype=torch.long)
    lo_x = big.scatter_reduce(0, ids, xs, "amin")
    lo_y = big.scatter_reduce(0, ids, ys, "amin")
    hi_x = torch.full_like(big, -1).scatter_reduce(0, ids, xs, "amax")
    hi_y = torch.full_like(big, -1).scatter_reduce(0, ids, ys, "amax")
    stats = torch.stack([area, lo_x, lo_y, hi_x, hi_y], 1).tolist()
    return tuple(
        Segment(id=i, category_id=cat, is_thing=thing, score=score, area=int(stats[i][0]),
                bbox=(stats[i][1], stats[i][2], stats[i][3] - stats[i][1] + 1, stats[i][4] - stats[i][2] + 1))
        for i, (cat, thing, score) in enumerate(info, start=1)
    )
