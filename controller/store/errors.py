"""Errors raised by the store: each names the database file and the reason."""
from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """The store cannot be used: the message names the file and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"store {self.path}: {reason}")
