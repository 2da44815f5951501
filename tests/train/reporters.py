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
    """Presses Ctrl-C after the n-th training step: runs the process's SIGINT handler as the OS would.

    Called directly rather than through ``signal.raise_signal``: in a test process that has run OpenVINO
    inference before (the suite runs many tests per process), a raised SIGINT ended the whole process.
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.steps = n, 0

    def step(self, losses, lr) -> None:
        self.steps += 1
        if self.steps == self.n:
            handler = signal.getsignal(signal.SIGINT)  # what the OS would run on Ctrl-C, called directly
            assert callable(handler) and handler is not signal.default_int_handler, "training installs a handler"
            handler(signal.SIGINT, None)
