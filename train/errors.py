"""The dataset error, in a module of its own so that every data module can raise it without import cycles."""

from __future__ import annotations


class DatasetError(ValueError):
    """The dataset folder is missing, incomplete or malformed; the message names the file."""
