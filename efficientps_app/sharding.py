"""Which inputs this process segments: ``--shard i/N`` by hand, or the rank torchrun gave it.

Under ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` in the environment) every
process takes shard ``RANK/WORLD_SIZE``, the GPU ``LOCAL_RANK`` of its machine when there are several, or its
part of the machine's CPU cores. The split is a pure function of the input list and the inputs' frame counts,
so every process computes the same one without talking to the others: whole files, the longest first, each
to the shard with the fewest frames so far (ties to the lowest shard). torch.distributed (gloo) is used for
one thing only, gathering the per-process summaries at the end (:class:`SummaryGroup`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from efficientps_app.errors import EfficientPSError

GATHER_TIMEOUT = timedelta(days=7)  # a process that finished early waits this long for the others


@dataclass(frozen=True)
class Shard:
    """This process's part of the work.

    Attributes:
        index: 0..count-1.
        count: Number of shards.
        local_index, local_count: Rank and number of processes on this machine (torchrun), else 0 and 1.
        torchrun: Launched by torchrun (the processes gather their summaries at the end).
    """

    index: int = 0
    count: int = 1
    local_index: int = 0
    local_count: int = 1
    torchrun: bool = False

    @property
    def leader(self) -> bool:
        """The process that prints the overall progress and summary (rank 0)."""
        return self.index == 0

    @property
    def name(self) -> str:
        return f"{self.index}-of-{self.count}"


def parse_shard(text: str) -> Shard:
    """Read ``--shard i/N`` (0 <= i < N).

    Raises:
        EfficientPSError: not of that form.
    """
    index, sep, count = str(text).partition("/")
    if not (sep and index.strip().isdigit() and count.strip().isdigit()) or not 0 <= int(index) < int(count):
        raise EfficientPSError(f"--shard {text}: expected i/N with 0 <= i < N (e.g. 0/4)")
    return Shard(int(index), int(count))


def current_shard(shard: str | None, environ: dict[str, str] | None = None) -> Shard:
    """The shard of this process: torchrun's rank, else ``--shard``, else the whole collection.

    Raises:
        EfficientPSError: ``--shard`` given under torchrun, or a malformed ``--shard``.
    """
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        if shard is not None:
            raise EfficientPSError("--shard and torchrun both split the inputs; give one of them")
        return Shard(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)),
                     int(env.get("LOCAL_WORLD_SIZE", 1)), torchrun=True)
    return Shard() if shard is None else parse_shard(shard)


def assign(weights: Sequence[int], count: int) -> list[int]:
    """The shard of every input: longest first, each to the least loaded shard (ties to the lowest).

    Args:
        weights: frames of every input (>= 1), in input order.
        count: number of shards.

    Returns:
        One shard index per input, in input order; deterministic.
    """
    load, owner = [0] * count, [0] * len(weights)
    for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        target = min(range(count), key=lambda s: (load[s], s))
        owner[i] = target
        load[target] += weights[i]
    return owner


def shard_device(device: str, shard: Shard) -> str:
    """``--device auto`` on a machine with several GPUs: this process's GPU (``cuda:LOCAL_RANK``)."""
    if device != "auto" or shard.local_count == 1:
        return device
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cuda:{shard.local_index % gpus}" if gpus > 1 else device


def shard_threads(threads: int | None, shard: Shard) -> int | None:
    """CPU threads of this process: ``--threads``, else the machine's cores split between its processes."""
    if threads is not None or shard.local_count == 1:
        return threads
    return max(1, (os.cpu_count() or 1) // shard.local_count)


class SummaryGroup:
    """The torchrun processes, joined over gloo to gather every process's summary on rank 0."""

    def __init__(self, shard: Shard) -> None:
        self.active = shard.torchrun and shard.count > 1
        if self.active:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=GATHER_TIMEOUT)

    def gather(self, summary: dict) -> list[dict]:
        """Every process's summary on rank 0 (in rank order); on the others, their own."""
        if not self.active:
            return [summary]
        import torch.distributed as dist

        gathered: list[dict] | None = [{} for _ in range(dist.get_world_size())] if dist.get_rank() == 0 else None
        dist.gather_object(summary, gathered, dst=0)
        return gathered if gathered is not None else [summary]

    def close(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.destroy_process_group()
