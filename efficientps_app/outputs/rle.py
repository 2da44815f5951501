"""COCO run-length encoding of segment masks (what ``--save-json --masks rle`` writes), written here so that no
compiled dependency is needed.

The format is pycocotools' compressed RLE: ``{"size": [H, W], "counts": str}``. The mask is read in column-major
(Fortran) order as alternating runs of 0 and 1, starting with 0 (a first run of length 0 when the first pixel
is set). The run lengths are written as a string: each count (from the third on, as the difference to the count
two before it) in 5-bit groups, least significant first, each group + 48 as one character, bit 0x20 meaning
"more groups follow" and bit 0x10 of the last group the sign. ``pycocotools.mask.decode`` reads it back.
"""

from __future__ import annotations

import numpy as np


def run_lengths(ids: np.ndarray) -> dict[int, list[int]]:
    """The uncompressed COCO RLE counts of every id of an id map, in one pass over the pixels.

    Args:
        ids: (H, W) integer map (a panoptic id map: segment ids, 0 = void).

    Returns:
        For every id present except 0: its mask's run lengths (0-runs and 1-runs alternating, first a 0-run),
        summing to H * W.
    """
    flat = np.asarray(ids).T.reshape(-1)  # column-major, as COCO reads masks
    if flat.size == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    ends = np.r_[starts[1:], flat.size]
    values = flat[starts]
    out: dict[int, list[int]] = {}
    for value in np.unique(values):
        if value == 0:
            continue
        pick = values == value
        counts, pos = [], 0
        for s, e in zip(starts[pick].tolist(), ends[pick].tolist()):
            counts += [s - pos, e - s]
            pos = e
        if pos < flat.size:
            counts.append(flat.size - pos)
        out[int(value)] = counts
    return out


def compress_counts(counts: list[int]) -> str:
    """Uncompressed run lengths as a COCO compressed RLE string."""
    chars = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            chars.append(chr(c + 48 + (0x20 if more else 0)))
    return "".join(chars)


def decompress_counts(text: str) -> list[int]:
    """A COCO compressed RLE string back to run lengths (the inverse of :func:`compress_counts`)."""
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        x, shift, more = 0, 0, True
        while more:
            c = ord(text[pos]) - 48
            x |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                x |= -1 << shift
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode_masks(ids: np.ndarray) -> dict[int, dict]:
    """COCO compressed RLE of every segment of an id map: ``{id: {"size": [H, W], "counts": str}}``."""
    h, w = np.shape(ids)
    return {value: {"size": [h, w], "counts": compress_counts(counts)} for value, counts in run_lengths(ids).items()}


def empty_mask(height: int, width: int) -> dict:
    """The COCO compressed RLE of an all-zero (H, W) mask."""
    return {"size": [height, width], "counts": compress_counts([height * width])}


def decode_mask(rle: dict) -> np.ndarray:
    """(H, W) bool mask of a COCO compressed RLE (``{"size": [H, W], "counts": str}``)."""
    h, w = rle["size"]
    flat = np.zeros(h * w, dtype=bool)
    pos = 0
    for i, count in enumerate(decompress_counts(rle["counts"])):
        if i % 2:
            flat[pos : pos + count] = True
        pos += count
    return flat.reshape(w, h).T
