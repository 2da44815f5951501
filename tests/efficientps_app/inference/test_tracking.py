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


def test_a_jump_in_time_starts_afresh_small_steps_do_not():
    tracker = Tracker(grid=1)
    car = make_result(60, 100, [(10, 10, 30, 30, 13)])
    other_car = make_result(60, 100, [(60, 10, 80, 40, 13)])
    assert tracker.update(car, 0.0) == {1: 1}
    assert tracker.update(other_car, 0.5) == {1: 2}  # a new object, same tracks
    assert tracker.update(car, 0.6) == {1: 1}  # hidden for one frame: the same id
    assert tracker.update(other_car, 0.2) == {1: 1}  # back in time (a seek): afresh
    assert tracker.update(car, 5.0) == {1: 1}  # far ahead: afresh


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
