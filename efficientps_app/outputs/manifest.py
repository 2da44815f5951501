"""The manifest of a collection run: one record per input and attempt, in ``OUT/manifest/``.

Every process appends to its own file, ``shard-I-of-N.jsonl`` (so processes never write the same file), one
JSON line per input it finished: ``done`` with the outputs it wrote, or ``failed`` with the reason. A line is
written with one ``write`` and flushed to disk before the next input starts; a line cut short by a killed
process does not parse and is ignored (and cut off when that shard's file is opened again). Reading merges
every file of the folder; an input's newest record is its state. An input counts as done only when its record
says so and every output it lists exists, so ``--skip-existing`` never accepts an output that was not
finished (the outputs themselves are only renamed into place when complete: :mod:`.files`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

MANIFEST_DIR = "manifest"

State = Literal["done", "failed"]


@dataclass(frozen=True)
class InputRecord:
    """What happened to one input.

    Attributes:
        input: The input's name below its folder (:attr:`~efficientps_app.sources.collection.InputFile.relative`).
        state: ``done`` or ``failed``.
        reason: Why it failed (one line), or None.
        outputs: What it wrote, relative to the output folder.
        frames: Frames segmented.
        shard: Which process (``I-of-N``).
        time: When it finished, seconds since the epoch.
        notes: Frames or images skipped inside the input (corrupt data), one line each.
    """

    input: str
    state: State
    reason: str | None = None
    outputs: tuple[str, ...] = ()
    frames: int = 0
    shard: str = "0-of-1"
    time: float = field(default_factory=time.time)
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> InputRecord | None:
        """The record of a manifest line, or None for a line that is cut short or not a record."""
        try:
            data = json.loads(line)
            return cls(**{**data, "outputs": tuple(data.get("outputs", ())), "notes": tuple(data.get("notes", ()))})
        except (ValueError, TypeError):
            return None

    def complete(self, root: Path) -> bool:
        """Done, and every output it lists is there."""
        return self.state == "done" and all((root / out).exists() for out in self.outputs)


def _records(path: Path) -> list[InputRecord]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [r for r in map(InputRecord.from_json, lines) if r is not None]


def read_manifest(root: Path) -> dict[str, InputRecord]:
    """Every input's newest record, from all shards' files in ``root/manifest/``."""
    folder = root / MANIFEST_DIR
    records = [r for path in sorted(folder.glob("shard-*.jsonl")) for r in _records(path)] if folder.is_dir() else []
    return {r.input: r for r in sorted(records, key=lambda r: r.time)}


class ManifestWriter:
    """This process's manifest file: appends one line per finished input."""

    def __init__(self, root: Path, shard_name: str) -> None:
        self.path = root / MANIFEST_DIR / f"shard-{shard_name}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(self.path)

    def add(self, record: InputRecord) -> None:
        """Append the record and flush it to disk."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (record.to_json() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline (a process killed while writing it)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
