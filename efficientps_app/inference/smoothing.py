"""Opt-in temporal smoothing of the stuff classes of a video: a flow-warped moving average of votes.

Each frame, the running class scores of the previous frame are carried to the current one along the
optical flow between the two frames (OpenCV's DIS flow on grey images at reduced resolution), decayed,
and the current frame's stuff labels are added: ``P_t = alpha * onehot(stuff_t) + (1 - alpha) *
warp(P_t-1)``. Every pixel that the frame gives to a stuff class then takes the stuff class with the
highest score (where the past outvotes the current frame); thing segments and void are left as they
are. It is off by default: ``segment
--smooth-stuff`` turns it on, and ``docs/video.md`` shows what it does to STQ and VPQ.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from model.fusion import describe_segments
from model.outputs import PanopticResult


class StuffSmoother:
    """Smooths the stuff labels of consecutive frames of one video.

    Args:
        num_stuff: stuff classes are train ids 0..num_stuff-1.
        alpha: weight of the current frame; at 0.5 or more the current frame always wins (no smoothing),
            at 0.35 a label must be outvoted by about two frames of the past.
        max_side: the scores and the flow are kept at most this many pixels on the longer side.
    """

    def __init__(self, num_stuff: int, alpha: float = 0.35, max_side: int = 512) -> None:
        self.num_stuff, self.alpha, self.max_side = num_stuff, alpha, max_side
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._gray: np.ndarray | None = None
        self._scores: np.ndarray | None = None  # (h, w, num_stuff) float32

    def reset(self) -> None:
        """Forget the past (a cut, a seek)."""
        self._gray = self._scores = None

    def update(self, image: np.ndarray, result: PanopticResult) -> PanopticResult:
        """The result of frame ``image`` ((H, W, 3) uint8 RGB) with smoothed stuff (things keep their order and
        pixels, ids 1..K)."""
        pan = result.panoptic.numpy()
        h, w = pan.shape
        step = max(1, -(-max(h, w) // self.max_side))
        small = (-(-w // step), -(-h // step))  # (width, height)
        gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), small, interpolation=cv2.INTER_AREA)
        stuff_of = np.full(max((s.id for s in result.segments), default=0) + 1, -1, np.int64)
        for s in result.segments:
            if not s.is_thing:
                stuff_of[s.id] = s.category_id
        labels = stuff_of[pan]  # (H, W) stuff class or -1
        votes = np.zeros((small[1], small[0], self.num_stuff), np.float32)
        sub = labels[::step, ::step]
        ys, xs = np.nonzero(sub >= 0)
        votes[ys, xs, sub[ys, xs]] = 1.0
        if self._scores is None or self._gray is None or self._gray.shape != gray.shape:
            scores = votes
        else:
            scores = self.alpha * votes + (1 - self.alpha) * self._warp(self._scores, gray)
        self._gray, self._scores = gray, scores
        best = scores.argmax(-1)
        overruled = (sub >= 0) & (best != sub)  # cells where the past outvotes this frame
        if not overruled.any():
            return result
        if step > 1:  # back to full resolution: only where the past won, each cell for its step x step pixels
            best = np.repeat(np.repeat(best, step, 0), step, 1)[:h, :w]
            overruled = np.repeat(np.repeat(overruled, step, 0), step, 1)[:h, :w]
        smoothed = np.where(overruled & (labels >= 0), best, labels)
        return _with_stuff(result, pan, smoothed)

    def _warp(self, scores: np.ndarray, gray: np.ndarray) -> np.ndarray:
        """The previous frame's scores seen from the current frame (backward flow, bilinear)."""
        flow = self._flow.calc(gray, self._gray, None)  # current pixel x was at x + flow(x) before
        h, w = gray.shape
        grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
        channels = [cv2.remap(scores[..., c], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                    for c in range(scores.shape[-1])]
        return np.stack(channels, axis=-1)


def _with_stuff(result: PanopticResult, pan: np.ndarray, stuff: np.ndarray) -> PanopticResult:
    """``result`` with its stuff pixels relabelled by ``stuff`` ((H, W) class or -1): things keep their
    ids and come first, stuff segments follow in class order (the fusion's numbering)."""
    things = [s for s in result.segments if s.is_thing]
    out = np.zeros_like(pan)
    info = []
    for seg in things:
        info.append((seg.category_id, True, seg.score))
        out[pan == seg.id] = len(info)
    semantic = result.semantic.numpy().copy()
    for cat in np.unique(stuff[stuff >= 0]).tolist():
        info.append((cat, False, None))
        where = stuff == cat
        out[where] = len(info)
        semantic[where] = cat
    panoptic = torch.from_numpy(out).to(result.panoptic.device)
    segments = describe_segments(panoptic, info)
    return PanopticResult(panoptic, segments, torch.from_numpy(semantic).to(result.semantic.device))
