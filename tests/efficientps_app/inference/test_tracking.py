"""Tracking: ids survive motion, short occlusion and class flips within a group; the assignment is one to
one; fast objects keep their ids; ids are never reused; the oracle test recovers most true tracks."""

from __future__ import annotations

import pytest
import torch

from efficientps_app.inference.tracking import Tracker, class_groups
from model.classes import CITYSCAPES_CLASSES
from tests.efficientps_app.results import make_result

PERSON, CAR, TRUCK = 11, 13, 14
GROUPS = class_groups(CITYSCAPES_CLASSES)


def test_class_groups():
    names = {c.name: c.train_id for c in CITYSCAPES_CLASSES}
    assert GROUPS[names["car"]] == GROUPS[names["truck"]] == GROUPS[names["bus"]] == GROUPS[names["train"]]
    assert GROUPS[names["person"]] == GROUPS[names["rider"]] != GROUPS[names["car"]]
    assert GROUPS[names["bicycle"]] == GROUPS[names["motorcycle"]] != GROUPS[names["person"]]
    assert len({GROUPS[names[n]] for n in ("road", "sky", "car", "person", "bicycle")}) == 5


def test_moving_objects_keep_their_ids():
    tracker = Tracker(grid=1)
    first = tracker.update(make_result(60, 100, [(10, 10, 30, 30, CAR), (60, 10, 80, 40, PERSON)]))
    assert sorted(first.values()) == [1, 2]
    # next frame: the objects moved a little and are listed in the other order
    second = tracker.update(make_result(60, 100, [(63, 12, 83, 42, PERSON), (13, 10, 33, 30, CAR)]))
    assert second == {1: first[2], 2: first[1]}


def test_a_class_flip_within_a_group_keeps_the_id_and_the_vote_keeps_the_class():
    tracker = Tracker(grid=1, groups=GROUPS)
    for _ in range(3):
        car_id = tracker.update(make_result(60, 100, [(10, 10, 30, 30, CAR)]))[1]
    flipped = make_result(60, 100, [(11, 10, 31, 30, TRUCK), (60, 10, 80, 40, PERSON)])
    result, ids = tracker.track(flipped)
    assert ids[1] == car_id and ids[2] != car_id  # the truck-looking car is still the car
    assert result.segments[0].category_id == CAR and int(result.semantic[20, 20]) == CAR  # and is output as a car
    assert flipped.segments[0].category_id == TRUCK  # the input is not modified
    assert tracker.category(car_id) == CAR
    person = tracker.update(make_result(60, 100, [(11, 10, 31, 30, PERSON)]))[1]
    assert person not in (car_id, ids[2])  # a person where the car was is not the car (another group)


def test_without_groups_every_class_is_alone():
    tracker = Tracker(grid=1)
    tracker.update(make_result(60, 100, [(10, 10, 30, 30, CAR)]))
    ids = tracker.update(make_result(60, 100, [(10, 10, 30, 30, TRUCK), (60, 10, 80, 40, CAR)]))
    assert sorted(ids.values()) == [2, 3]


def test_assignment_is_one_to_one_and_optimal():
    # Track A covers columns 0-19, track B 20-29. Next frame: segment 1 covers 8-27, segment 2 covers 0-7.
    # IoU(A, 1) = 12/28 = 0.43, IoU(B, 1) = 8/22 = 0.36, IoU(A, 2) = 8/20 = 0.4, IoU(B, 2) = 0. Greedy would
    # give segment 1 to A and leave B and segment 2 apart (a new id); the best one-to-one pairing
    # (0.4 + 0.36 = 0.76 > 0.43) keeps both tracks.
    tracker = Tracker(grid=1, max_jump=0.0)
    first = tracker.update(make_result(20, 40, [(0, 5, 20, 15, CAR), (20, 5, 30, 15, CAR)]))
    second = tracker.update(make_result(20, 40, [(8, 5, 28, 15, CAR), (0, 5, 8, 15, CAR)]))
    assert second == {1: first[2], 2: first[1]}


def test_a_fast_object_keeps_its_id():
    # A 10 x 10 car moving 14 px a frame never overlaps itself between frames: the first step is bridged by
    # the centre distance (1.4 sizes), then the velocity predicts where it goes.
    tracker = Tracker(grid=1)
    ids = {tracker.update(make_result(40, 200, [(5 + 14 * t, 10, 15 + 14 * t, 20, CAR)]))[1] for t in range(10)}
    assert ids == {1}
    # Without the motion model (no velocity, no distance step) every frame would start a new track.
    still = Tracker(grid=1, max_jump=0.0, momentum=1.0)
    ids = {still.update(make_result(40, 200, [(5 + 14 * t, 10, 15 + 14 * t, 20, CAR)]))[1] for t in range(10)}
    assert len(ids) == 10


def test_velocity_carries_an_object_through_a_gap():
    # The car moves 6 px a frame, is missed for 2 frames, and comes back where its velocity says.
    tracker = Tracker(grid=1, max_jump=0.0)
    for t in range(4):
        first = tracker.update(make_result(40, 200, [(5 + 6 * t, 10, 17 + 6 * t, 22, CAR)]))[1]
    tracker.update(make_result(40, 200, []))
    tracker.update(make_result(40, 200, []))
    assert tracker.update(make_result(40, 200, [(5 + 6 * 6, 10, 17 + 6 * 6, 22, CAR)]))[1] == first


def test_short_occlusion_keeps_the_id_long_one_does_not():
    tracker = Tracker(grid=1, max_age=2)
    first = tracker.update(make_result(60, 100, [(10, 10, 30, 30, CAR)]))[1]
    tracker.update(make_result(60, 100, []))
    assert tracker.update(make_result(60, 100, [(11, 10, 31, 30, CAR)]))[1] == first
    for _ in range(3):
        tracker.update(make_result(60, 100, []))
    assert tracker.update(make_result(60, 100, [(11, 10, 31, 30, CAR)]))[1] != first


def test_ids_are_never_reused():
    tracker = Tracker(grid=1, max_age=1)
    car = make_result(60, 100, [(10, 10, 30, 30, CAR)])
    first = tracker.update(car)[1]
    for _ in range(3):  # the track is forgotten
        tracker.update(make_result(60, 100, []))
    second = tracker.update(car)[1]
    tracker.reset()  # a seek: every track is forgotten
    third = tracker.update(car)[1]
    assert first < second < third


def test_stuff_gets_no_track_ids_and_the_grid_follows_the_size():
    assert Tracker().update(make_result(40, 40, [])) == {}
    big = make_result(1100, 2100, [(100, 100, 300, 300, CAR)])
    tracker = Tracker()
    tracker.update(big)
    assert tracker.update(big) == {1: 1}  # at grid 3 for a 2100-pixel-wide frame


def test_accepts_numpy_maps():
    result = make_result(30, 30, [(5, 5, 15, 15, CAR)])
    numpy_result = type(result)(result.panoptic.numpy(), result.segments, result.semantic)
    assert Tracker(grid=1).update(numpy_result) == {1: 1}
    assert isinstance(result.panoptic, torch.Tensor)


@pytest.mark.slow
def test_oracle_recovers_most_true_tracks():
    from train.panoptic_io import eval_categories
    from train.synth_video import render_drive_frames
    from train.video_oracle import Spoiling, run_oracle

    categories = {c["id"]: bool(c["isthing"]) for c in eval_categories()}
    frames = [f.inst for f in render_drive_frames(192, 384, seconds=4, fps=15, seed=1)]
    spoil = Spoiling(seed=0)
    ideal = run_oracle(frames, None, CITYSCAPES_CLASSES, categories, spoil)
    tracker = Tracker(groups=GROUPS)
    ours = run_oracle(frames, tracker.track, CITYSCAPES_CLASSES, categories, spoil)
    # The detections are the same in both runs: only the ids differ. True ids: no switch, AQ at its best.
    assert ideal["id_switches"] == 0 and ideal["sq"] < 1.0
    assert ours["aq"] >= 0.85 * ideal["aq"]
    assert ours["recovered_tracks"] >= 0.4 * ours["gt_tracks"]
    assert ours["id_switches_per_100"] < 150


def test_a_jump_in_time_starts_afresh_small_steps_do_not():
    tracker = Tracker(grid=1)
    car = make_result(60, 100, [(10, 10, 30, 30, CAR)])
    other_car = make_result(60, 100, [(60, 10, 80, 40, CAR)])
    assert tracker.update(car, 0.0) == {1: 1}
    assert tracker.update(other_car, 0.5) == {1: 2}  # a new object, same tracks
    assert tracker.update(car, 0.6) == {1: 1}  # hidden for one frame: the same id
    assert tracker.update(other_car, 0.2) == {1: 3}  # back in time (a seek): afresh, with a new id
    assert tracker.update(car, 5.0) == {1: 4}  # far ahead: afresh


def test_the_viewer_and_the_stream_track_alike():
    """One reset policy: frames shown in order in the viewer get the ids that segment gives them."""
    import itertools

    from efficientps_app.assets import DEMO_VIDEO, DEMO_WEIGHTS
    from efficientps_app.inference.predictor import Predictor
    from efficientps_app.viewer.frames import FrameStore
    from efficientps_app.viewer.worker import InferenceWorker

    predictor = Predictor(DEMO_WEIGHTS, device="cpu")
    streamed = [p.track_ids for p in itertools.islice(predictor.stream(DEMO_VIDEO), 5)]
    store = FrameStore(DEMO_VIDEO)
    worker, shown = InferenceWorker(store, predictor), []
    worker.ready.connect(lambda index, frame, result, track_ids: shown.append(track_ids))
    try:
        for index in range(5):
            worker.process(index)
    finally:
        store.close()
    assert shown == streamed and any(shown)  # the demo drive has cars from the first frame
