"""Splitting a collection between processes: deterministic, whole files, balanced by frames; torchrun's env."""

from __future__ import annotations

import pytest

from efficientps_app.errors import EfficientPSError
from efficientps_app.sharding import Shard, assign, current_shard, parse_shard, shard_device, shard_threads


def test_assign_gives_every_input_to_one_shard_balanced_by_frames():
    weights = [300, 1, 1, 1, 120, 90, 1, 60, 1, 1]
    owner = assign(weights, 3)
    assert owner == assign(list(weights), 3)  # the same in every process
    loads = [sum(w for w, o in zip(weights, owner) if o == s) for s in range(3)]
    assert loads == [300, 126, 150]  # the long video alone; longest first, each to the least loaded shard
    assert assign([5, 5, 5, 5], 2) == [0, 1, 0, 1] and assign([1, 2], 4) == [1, 0]


def test_parse_shard():
    assert parse_shard("1/4") == Shard(1, 4)
    for bad in ("4/4", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(EfficientPSError, match="--shard"):
            parse_shard(bad)


def test_torchrun_environment_sets_the_shard():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert current_shard(None, env) == Shard(3, 4, 1, 2, torchrun=True)
    assert current_shard(None, {}) == Shard() and current_shard("0/2", {}) == Shard(0, 2)
    with pytest.raises(EfficientPSError, match="give one of them"):
        current_shard("0/2", env)


def test_processes_on_one_machine_split_its_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert shard_threads(None, Shard(0, 4, 1, 4)) == 4 and shard_threads(2, Shard(0, 4, 1, 4)) == 2
    assert shard_threads(None, Shard(0, 2)) is None  # one process per machine: the library's default
    assert shard_device("cpu", Shard(0, 2, 1, 2)) == "cpu" and shard_device("auto", Shard()) == "auto"
