"""The consoles every command prints through: machine output on ``stdout``, everything else (progress,
notes, saved paths, errors) on ``stderr``."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_notes(notes: Iterable[str]) -> None:
    """``note: ...`` lines on stderr: what runs differs from what was asked for, or is worth knowing."""
    for note in notes:
        stderr.print(f"[yellow]note:[/] {escape(note)}")
