"""Tracking: ids survive motion and short occlusion, classes never swap ids, new objects get new ids."""

from __future__ import annotations

from efficientps_app.inference.tracking import Tracker
from tests.efficientps_app.results import make_result


def test_moving_objects_keep_their_ids():
    tracker = Tracker(grid=1)
    first = tracker.update(make_result(60, 100, [(10, 10, 30, 30, 13), (60, 10, 80, 40, 11)]))
    assert sorted(first.values()) == [1, 2]
    # next frame: the objects moved a little and are listed in the other order
    second = tracker.update(make_result(60, 100, [(63, 12, 83, 42, 11), (13, 10, 33, 30, 13)]))
    assert second == {1: first[2], 2: first[1]}


def test_new_object_and_class_change_get_new_ids():
    tracker = Tracker(grid=1)
    tracker.update(make_result(60, 100, [(10, 10, 30, 30, 13)]))
    ids = tracker.update(make_result(60, 100, [(10, 10, 30, 30, 14), (60, 10, 80, 40, 11)]))
    assert sorted(ids.values()) == [2, 3]  # a truck where the car was is not the car


def test_short_occlusion_keeps_the_id_long_one_does_not():
    tracker = Tracker(grid=1, max_age=2)
    first = tracker.update(make_result(60, 100, [(10, 10, 30, 30, 13)]))[1]
    tracker.update(make_result(60, 100, []))
    assert tracker.update(make_result(60, 100, [(11, 10, 31, 30, 13)]))[1] == first
    for _ in range(3):
        tracker.update(make_result(60, 100, []))
    assert tracker.update(make_result(60, 100, [(11, 10, 31, 30, 13)]))[1] != first


def test_stuff_gets_no_track_ids():
    assert Tracker().update(make_result(40, 40, [])) == {}
