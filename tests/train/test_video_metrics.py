"""STQ, VPQ and id switches on hand-made videos whose values are worked out in the comments, on a perfect
prediction (100) and on an id-shuffled one."""

from __future__ import annotations

import numpy as np
import pytest

from train.video_metrics import GtSegment, PredSegment, TubeIds, VideoPanopticEvaluator

ROAD, SIDEWALK, PERSON, CAR, TRUCK = 7, 8, 24, 26, 27
CATEGORIES = {ROAD: False, SIDEWALK: False, PERSON: True, CAR: True, TRUCK: True}
GT = {0: None, ROAD: GtSegment(ROAD, False), SIDEWALK: GtSegment(SIDEWALK, False),
      26001: GtSegment(CAR, True), 26002: GtSegment(CAR, True), CAR: GtSegment(CAR, True, crowd=True)}
R, S, A, B, CROWD = ROAD, SIDEWALK, 26001, 26002, CAR  # ground-truth ids in the maps below


def evaluate(frames: list[tuple[int, list[int], list]]) -> dict:
    """``frames``: (index, gt row, pred row); a pred cell is 0 (void), a stuff category or (category, track)."""
    evaluator = VideoPanopticEvaluator(CATEGORIES)
    tubes = TubeIds()
    for index, gt_row, pred_row in frames:
        gt = np.array([gt_row])
        keys = sorted({c for c in pred_row if c != 0}, key=str)
        seg_id = {c: i for i, c in enumerate(keys, start=1)}
        pred = np.array([[seg_id.get(c, 0) for c in pred_row]])
        segments = {i: PredSegment(c[0], True, c[1]) if isinstance(c, tuple) else PredSegment(c, False)
                    for c, i in seg_id.items()}
        tube_ids, tube_segments = tubes.frame(pred, segments)
        evaluator.add(index, gt, {g: GT[g] for g in set(gt_row) if g}, tube_ids, tube_segments)
    return evaluator.results()


def test_id_switch_halves_association():
    # Frames 0 and 5: road road A A; the prediction is right but car A is track 1, then track 2.
    r = evaluate([(0, [R, R, A, A], [R, R, (CAR, 1), (CAR, 1)]),
                  (5, [R, R, A, A], [R, R, (CAR, 2), (CAR, 2)])])
    # AQ: |A| = 4 over the video; tube 1 and tube 2 each overlap 2 px: TPA = 2, IoU = 2 / (2 + 4 - 2) = 0.5,
    # so sum_p TPA * IoU = 2 * (2 * 0.5) = 2, AQ = 2 / |A| / 1 object = 0.5. SQ: road and car IoU 1 -> 1.
    assert r["aq"] == pytest.approx(0.5) and r["sq"] == pytest.approx(1.0)
    assert r["stq"] == pytest.approx(np.sqrt(0.5))
    # VPQ k=0: each frame alone is perfect (road and car TP with IoU 1).
    assert r["vpq"]["0"]["All"]["pq"] == pytest.approx(1.0)
    # VPQ k=5: one window {0, 5}: road tube IoU 1 (TP); car A (4 px in the window) vs tube 1: 2 / (2 + 4 - 2) = 0.5,
    # not > 0.5, same for tube 2: A is a FN, tubes 1 and 2 are FPs -> car PQ 0 / (0 + 0.5 + 1) = 0; All = 0.5.
    assert r["vpq"]["5"]["All"]["pq"] == pytest.approx(0.5) and r["vpq"]["5"]["Things"]["pq"] == 0.0
    assert r["vpq"]["10"] is None and r["vpq"]["15"] is None  # too short for these windows
    assert r["vpq_mean"]["All"] == pytest.approx(0.75)  # mean of 1.0 and 0.5
    # A matched to track 1, then to track 2: one switch over one tracked object.
    assert (r["id_switches"], r["tracked_objects"], r["id_switches_per_100"]) == (1, 1, 100.0)
    assert r["recovered_tracks"] == 0


def test_void_and_misses_in_sq_and_aq():
    # gt:   void road road sidewalk A A
    # pred: road road sidewalk sidewalk car(1) void
    r = evaluate([(0, [0, R, R, S, A, A], [ROAD, ROAD, SIDEWALK, SIDEWALK, (CAR, 1), 0])])
    # Void ground truth is left out. road: TP 1, |gt| 2, |pred| 1 -> 1 / 2; sidewalk: TP 1, |gt| 1, |pred| 2
    # -> 1 / 2; car: TP 1, |gt| 2 (one predicted void = a miss), |pred| 1 -> 1 / 2. SQ = 0.5.
    assert r["sq"] == pytest.approx(0.5)
    assert r["iou_per_class"] == pytest.approx({ROAD: 0.5, SIDEWALK: 0.5, CAR: 0.5})
    # AQ: |A| = 2, |tube 1| = 1, TPA = 1, IoU = 1 / 2: AQ = (1 * 0.5) / 2 = 0.25; STQ = sqrt(0.25 * 0.5).
    assert r["aq"] == pytest.approx(0.25) and r["stq"] == pytest.approx(np.sqrt(0.125))
    # PQ, k=0. road: IoU = 1 / (2 + 2 - 1 - 1 on void) = 0.5, not a match: FN road, and the road prediction
    # (half on void: 1 / 2 is not > 0.5) is a FP. sidewalk: 1 / (2 + 1 - 1) = 0.5: FN + FP. car: 1 / (1 + 2 - 1)
    # = 0.5: FN + FP. Every class PQ 0.
    assert r["vpq"]["0"]["All"]["pq"] == 0.0 and r["vpq"]["0"]["All"]["n"] == 3


def test_crowd_is_left_out_of_association_but_not_of_pq():
    # gt: A A crowd(car) crowd(car); one predicted car over all four pixels.
    r = evaluate([(0, [A, A, CROWD, CROWD], [(CAR, 1)] * 4)])
    # AQ ignores predicted pixels on crowd: |tube| = 2, TPA = 2, IoU 1 -> AQ 1. SQ: every pixel is car -> 1.
    assert r["aq"] == pytest.approx(1.0) and r["sq"] == pytest.approx(1.0)
    # PQ: A vs the prediction: 2 / (4 + 2 - 2) = 0.5, no match; FN A; the prediction is half on crowd
    # (2 / 4 = 0.5, not > 0.5): a FP. car PQ 0.
    assert r["vpq"]["0"]["All"]["pq"] == 0.0
    assert r["gt_tracks"] == 1  # the crowd region is no object


def test_void_part_of_a_prediction_leaves_the_union():
    # gt: void A A road; pred: car car car road. A vs car: 2 / (3 + 2 - 2 - 1 on void) = 1.0.
    r = evaluate([(0, [0, A, A, R], [(CAR, 3)] * 3 + [ROAD])])
    assert r["vpq"]["0"]["Things"]["pq"] == pytest.approx(1.0) and r["vpq"]["0"]["All"]["pq"] == pytest.approx(1.0)
    # AQ keeps the void pixel in the tube (as deeplab2 does): |tube| 3, TPA 2, IoU 2/3: AQ = 2 * 2/3 / 2 = 2/3.
    assert r["aq"] == pytest.approx(2 / 3)


def test_class_flip_splits_a_tube_but_is_no_id_switch():
    # Frames 0, 1: A is predicted as car, then as truck, with the same track id 1.
    r = evaluate([(0, [R, A, A], [ROAD, (CAR, 1), (CAR, 1)]), (1, [R, A, A], [ROAD, (TRUCK, 1), (TRUCK, 1)])])
    assert r["id_switches"] == 0 and r["recovered_tracks"] == 1
    # Two predicted tubes (car 1, truck 1), each 2 of A's 4 px: AQ = 2 * (2 * 2 / 4) / 4 = 0.5.
    assert r["aq"] == pytest.approx(0.5)
    # SQ: road 1; car: TP 2, |gt| 4, |pred| 2 -> 0.5; truck: TP 0, |pred| 2 -> 0. Mean (1 + 0.5 + 0) / 3 = 0.5.
    assert r["sq"] == pytest.approx(0.5)


def test_switches_count_per_object_and_recovery_needs_one_exclusive_track():
    # Frames 0-2, gt: A A B B (B hidden in frame 2 behind road). Tracks: A 1,2,2 and B 2,1 -> 2 switches.
    swapped = evaluate([(0, [A, A, B, B], [(CAR, 1), (CAR, 1), (CAR, 2), (CAR, 2)]),
                        (1, [A, A, B, B], [(CAR, 2), (CAR, 2), (CAR, 1), (CAR, 1)]),
                        (2, [A, A, R, R], [(CAR, 2), (CAR, 2), ROAD, ROAD])])
    assert (swapped["id_switches"], swapped["tracked_objects"], swapped["recovered_tracks"]) == (2, 2, 0)
    assert swapped["id_switches_per_100"] == pytest.approx(100.0)
    # A: track 1 in all 3 frames (recovered); B: seen 3 frames, matched only in frame 0 (1 < 3 / 2): not.
    partial = evaluate([(0, [A, A, B, B], [(CAR, 1), (CAR, 1), (CAR, 2), (CAR, 2)]),
                        (1, [A, A, B, B], [(CAR, 1), (CAR, 1), ROAD, ROAD]),
                        (2, [A, A, B, B], [(CAR, 1), (CAR, 1), ROAD, ROAD])])
    assert (partial["id_switches"], partial["gt_tracks"], partial["recovered_tracks"]) == (0, 2, 1)


def test_perfect_and_id_shuffled_on_a_synthetic_drive():
    from train.panoptic_io import gt_from_instance_ids
    from train.synth_video import render_drive_frames

    rng = np.random.default_rng(0)
    categories = CATEGORIES | _all_categories()
    evaluators = {name: (VideoPanopticEvaluator(categories), TubeIds()) for name in ("perfect", "shuffled")}
    for index, frame in enumerate(render_drive_frames(64, 128, seconds=4, fps=5, seed=2)):
        ids, segments = gt_from_instance_ids(frame.inst)
        gt_segments = {s.id: GtSegment(s.category_id, s.id >= 1000, bool(s.iscrowd)) for s in segments}
        things = [s.id for s in segments if s.id >= 1000]
        shuffled_tracks = dict(zip(things, rng.permutation(len(things)) + 1))  # new ids in every frame
        for name, (evaluator, tubes) in evaluators.items():
            track = (lambda k: k) if name == "perfect" else (lambda k: int(shuffled_tracks[k]))
            pred = {s.id: PredSegment(s.category_id, s.id >= 1000, track(s.id) if s.id >= 1000 else None)
                    for s in segments}
            tube_ids, tube_segments = tubes.frame(ids, pred)
            evaluator.add(index, ids, gt_segments, tube_ids, tube_segments)
    perfect, shuffled = (e.results() for e, _ in evaluators.values())
    assert perfect["stq"] == pytest.approx(1.0) and perfect["aq"] == pytest.approx(1.0) and perfect["sq"] == 1.0
    assert all(perfect["vpq"][k]["All"]["pq"] == 1.0 for k in ("0", "5", "10", "15"))
    assert perfect["id_switches"] == 0 and perfect["recovered_tracks"] == perfect["gt_tracks"] > 5
    # Shuffling ids leaves each frame's segmentation intact (SQ, VPQ k=0) but ruins association.
    assert shuffled["sq"] == 1.0 and shuffled["vpq"]["0"]["All"]["pq"] == 1.0
    assert shuffled["aq"] < 0.6 and shuffled["stq"] < 0.8 and shuffled["id_switches_per_100"] > 100
    assert shuffled["vpq"]["15"]["Things"]["pq"] < 0.5


def _all_categories() -> dict[int, bool]:
    from train.panoptic_io import eval_categories

    return {c["id"]: bool(c["isthing"]) for c in eval_categories()}


def test_bad_input_is_refused():
    evaluator = VideoPanopticEvaluator(CATEGORIES)
    one = np.array([[R]])
    with pytest.raises(ValueError, match="differ in size"):
        evaluator.add(0, one, {R: GT[R]}, np.zeros((2, 2), np.int64), {})
    with pytest.raises(KeyError, match="no segment"):
        evaluator.add(0, one, {R: GT[R]}, np.array([[3]]), {})
    evaluator.add(1, one, {R: GT[R]}, np.array([[0]]), {})
    with pytest.raises(ValueError, match="comes after"):
        evaluator.add(1, one, {R: GT[R]}, np.array([[0]]), {})
    with pytest.raises(KeyError, match="no segment"):
        TubeIds().frame(np.array([[2]]), {1: PredSegment(ROAD, False)})

