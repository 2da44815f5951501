"""The weights cache: where fetched checkpoints and their converted ``.safetensors`` live, and the one
resolver that turns a ``--weights`` value (a file, or a catalogue name such as ``cityscapes``) into a file.

Layout (``efficientps weights list`` prints the folder)::

    CACHE/efficientps_NAME.safetensors   the converted weights (written only after a successful conversion)
    CACHE/efficientps_NAME.json          what was fetched: source URL, size, SHA-256, time
    CACHE/downloads/FILE                 the original download (complete and verified)
    CACHE/downloads/FILE.part            an interrupted download, resumed by the next fetch
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from efficientps_app.errors import WeightsError

CACHE_ENV = "EFFICIENTPS_CACHE"


def cache_dir() -> Path:
    """``$EFFICIENTPS_CACHE``, else the platform's cache folder: ``$XDG_CACHE_HOME/efficientps`` (default
    ``~/.cache/efficientps``) on Linux, ``~/Library/Caches/efficientps`` on macOS,
    ``%LOCALAPPDATA%\\efficientps\\Cache`` on Windows."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "efficientps" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "efficientps"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "efficientps"


def writable_cache() -> Path:
    """The cache folder, created if needed, after checking that files can be written there.

    Raises:
        WeightsError: it cannot be created or written (the message says how to choose another).
    """
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise WeightsError(f"cannot write to the weights cache {folder} ({err.strerror or err}); set "
                           f"{CACHE_ENV} to a writable folder") from None
    return folder


def converted_path(name: str) -> Path:
    """The converted weights of catalogue entry ``name``."""
    return cache_dir() / f"efficientps_{name}.safetensors"


def downloads_dir() -> Path:
    return cache_dir() / "downloads"


@dataclass(frozen=True)
class FetchRecord:
    """What ``weights fetch`` stored for one catalogue entry."""

    name: str
    url: str  # where the checkpoint came from (a file:// URL for --file)
    file: str  # the original checkpoint as kept in the cache (or the user's file)
    size: int  # bytes of the original
    sha256: str  # of the original
    converted: str  # the .safetensors
    fetched_at: str  # ISO 8601, UTC


def record_path(name: str) -> Path:
    return cache_dir() / f"efficientps_{name}.json"


def read_record(name: str) -> FetchRecord | None:
    """The record of a fetched entry, or None (never fetched, or an unreadable record)."""
    try:
        return FetchRecord(**json.loads(record_path(name).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(record: FetchRecord) -> Path:
    """Write the record atomically next to the converted file."""
    path = record_path(record.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(record), f, indent=2)
    os.replace(tmp, path)
    return path


def resolve_weights(value: str | Path) -> Path:
    """The file a weights argument names: a catalogue name (``cityscapes``, ``kitti``) is its converted file in
    the cache; anything else is a path, returned as it is (the loaders check it).

    Raises:
        WeightsError: a catalogue name that has not been fetched (the message says how to fetch it).
    """
    from efficientps_app.weights.catalogue import CATALOGUE

    text = str(value)
    if text not in CATALOGUE:
        return Path(value)
    path = converted_path(text)
    if not path.is_file():
        raise WeightsError(f"{text}: the {CATALOGUE[text].release.dataset} weights are not in the cache yet "
                           f"({cache_dir()}); fetch them once with 'efficientps weights fetch {text}'")
    return path


def is_catalogue_name(value: str | Path | None) -> bool:
    from efficientps_app.weights.catalogue import CATALOGUE

    return value is not None and str(value) in CATALOGUE
