"""Timings: typed stages, safe to add to from the decode, inference and writer threads."""

from __future__ import annotations

import threading

import pytest

from efficientps_app.timings import Stage, Timings


def test_adds_from_several_threads_are_not_lost():
    timings = Timings()

    def work(stage: Stage) -> None:
        for _ in range(20_000):
            timings.add(stage, 0.001)
            timings.add(Stage.WRITE, 0.001)

    threads = [threading.Thread(target=work, args=(s,)) for s in (Stage.DECODE, Stage.INFERENCE, Stage.RENDER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    timings.count(10)
    ms = timings.ms_per_frame()
    assert list(ms) == [Stage.DECODE, Stage.INFERENCE, Stage.RENDER, Stage.WRITE]  # pipeline order
    assert ms[Stage.DECODE] == pytest.approx(2000.0) and ms[Stage.WRITE] == pytest.approx(6000.0)


def test_stages_are_typed():
    with pytest.raises(TypeError, match="expected a Stage"):
        Timings().add("decode", 1.0)
