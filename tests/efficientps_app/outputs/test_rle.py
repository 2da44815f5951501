"""COCO compressed RLE of segment masks: hand-checked strings, round trips, one pass for all segments."""

from __future__ import annotations

import numpy as np
import pytest

from efficientps_app.outputs.rle import (compress_counts, decode_mask, decompress_counts, empty_mask, encode_masks,
                                         run_lengths)


def test_counts_are_column_major_and_start_with_zeros():
    ids = np.array([[0, 1, 1],
                    [1, 1, 0]])  # column-major: 0 1 | 1 1 | 1 0
    assert run_lengths(ids) == {1: [1, 4, 1]}
    first_set = np.array([[2, 0], [2, 0]])
    assert run_lengths(first_set) == {2: [0, 2, 2]}


@pytest.mark.parametrize(("counts", "text"), [
    ([1, 2, 3], "123"),  # the first three counts as they are
    ([1, 2, 3, 5], "1233"),  # from the fourth on, the difference to the count two before: 5 - 2
    ([40], "X1"),  # 40 & 31 = 8 with "more": chr(8 + 48 + 32) = 'X'; then 40 >> 5 = 1: '1'
    ([0, 4, 4, 1], "044M"),  # 1 - 4 = -3: -3 & 31 = 29 (sign bit 0x10 set) and -3 >> 5 == -1 ends: chr(29 + 48)
])
def test_compressed_strings_by_hand(counts, text):
    assert compress_counts(counts) == text
    assert decompress_counts(text) == counts


def test_negative_differences_round_trip():
    counts = [100, 3, 2, 50, 1, 1, 7000, 4]  # differences to two back are negative and large
    assert decompress_counts(compress_counts(counts)) == counts


def test_every_segment_of_a_random_map_decodes_to_its_mask():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, (37, 53))
    ids[:, :5] = 4  # long runs across columns
    masks = encode_masks(ids)
    assert sorted(masks) == sorted(set(np.unique(ids).tolist()) - {0})
    for value, rle in masks.items():
        assert rle["size"] == [37, 53]
        np.testing.assert_array_equal(decode_mask(rle), ids == value)
    assert not decode_mask(empty_mask(3, 4)).any()


def test_same_strings_as_pycocotools():
    coco_mask = pytest.importorskip("pycocotools.mask", reason="pycocotools is not installed (not a dependency)")
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 5, (61, 47))
    ids[:10] = 3
    for value, rle in encode_masks(ids).items():
        reference = coco_mask.encode(np.asfortranarray((ids == value).astype(np.uint8)))
        assert rle == {"size": list(reference["size"]), "counts": reference["counts"].decode()}
