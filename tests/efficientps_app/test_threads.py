"""The threading helpers: bounded read-ahead and errors handed to the caller."""

from __future__ import annotations

import time

import pytest

from efficientps_app.threads import QUEUE_SIZE, prefetch


def test_prefetch_stays_a_bounded_number_of_frames_ahead():
    produced = []

    def frames():
        for i in range(100):
            produced.append(i)
            yield i

    ahead = []
    for i in prefetch(frames()):  # a slow consumer: the producer runs ahead until the queue is full
        time.sleep(0.002)
        ahead.append(len(produced) - i)
    assert QUEUE_SIZE <= max(ahead) <= QUEUE_SIZE + 2


def test_prefetch_passes_errors_on():
    def frames():
        yield 1
        raise ValueError("decoder exploded")

    with pytest.raises(ValueError, match="decoder exploded"):
        list(prefetch(frames()))
