"""Reporters for training tests: one that records messages, one that presses Ctrl-C after n steps."""

from __future__ import annotations

import signal


class Recorder:
    """Keeps every message of a training run."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)

    def epoch_start(self, *args) -> None: ...
    def step(self, losses, lr) -> None: ...
    def epoch_end(self) -> None: ...


class InterruptAt(Recorder):
    """Sends this process SIGINT after the n-th training step, as Ctrl-C would."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.steps = n, 0

    def step(self, losses, lr) -> None:
        self.steps += 1
        if self.steps == self.n:
            signal.raise_signal(signal.SIGINT)
