"""Hand-made panoptic results for rendering, tracking and sink tests."""

from __future__ import annotations

import torch

from model.fusion import describe_segments
from model.outputs import PanopticResult, select_segments


def make_result(height: int, width: int, things: list[tuple[int, int, int, int, int]], stuff: int = 0,
                score: float = 0.9) -> PanopticResult:
    """Stuff class ``stuff`` everywhere, then thing rectangles (x0, y0, x1, y1, class) painted in order.

    Thing segments get ids 1..K, the stuff segment K+1 (as the fusion numbers them); segments painted over
    entirely are dropped and the rest renumbered."""
    pan = torch.full((height, width), len(things) + 1, dtype=torch.int32)
    sem = torch.full((height, width), stuff, dtype=torch.int64)
    info = []
    for k, (x0, y0, x1, y1, cls) in enumerate(things, start=1):
        pan[y0:y1, x0:x1] = k
        sem[y0:y1, x0:x1] = cls
        info.append((cls, True, score))
    info.append((stuff, False, None))
    result = PanopticResult(pan, describe_segments(pan, info), sem)
    return select_segments(result, [s.area > 0 for s in result.segments])
