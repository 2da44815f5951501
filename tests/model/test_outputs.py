"""The segment-id invariant of PanopticResult (ids 1..K in order) and the helpers that keep it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.outputs import PanopticResult, Segment, segment_table, select_segments


def _result(categories: list[int]) -> PanopticResult:
    """One column per segment (ids 1..K), on a 2 x K map."""
    k = len(categories)
    pan = torch.arange(1, k + 1, dtype=torch.int32).repeat(2, 1)
    segs = tuple(Segment(i + 1, c, c >= 11, 0.9 if c >= 11 else None, 2, (i, 0, 1, 2)) for i, c in enumerate(categories))
    return PanopticResult(pan, segs, torch.tensor(categories).repeat(2, 1))


def test_ids_must_be_one_to_k_in_order():
    seg = Segment(2, 13, True, 0.9, 1, (0, 0, 1, 1))
    with pytest.raises(ValueError, match=r"segment ids must be 1\.\.1"):
        PanopticResult(torch.full((1, 1), 2, dtype=torch.int32), (seg,), torch.zeros(1, 1, dtype=torch.long))


def test_segment_table_has_one_row_per_id():
    result = _result([13, 11, 0])
    assert segment_table(result, [s.category_id for s in result.segments], fill=-1).tolist() == [-1, 13, 11, 0]
    colors = segment_table(result, [(1, 2, 3)] * 3, fill=(0, 0, 0), dtype=np.uint8)
    assert colors.shape == (4, 3) and colors[0].tolist() == [0, 0, 0]
    empty = PanopticResult(torch.zeros(2, 2, dtype=torch.int32), (), torch.zeros(2, 2, dtype=torch.long))
    assert segment_table(empty, [], fill=(0, 0, 0)).shape == (1, 3)


def test_select_segments_renumbers_and_voids_the_rest():
    result = _result([11, 13, 13, 0])  # a person, two cars, road
    cars = select_segments(result, [s.category_id == 13 for s in result.segments])
    assert [(s.id, s.category_id, s.bbox) for s in cars.segments] == [(1, 13, (1, 0, 1, 2)), (2, 13, (2, 0, 1, 2))]
    assert cars.panoptic[0].tolist() == [0, 1, 2, 0]
    assert select_segments(result, [True] * 4) is result
