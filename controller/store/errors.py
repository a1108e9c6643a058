"""Errors raised by the store: each names the database file and the reason."""
from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """The store cannot be used: the message names the file and why.

    `environmental`: the disk or its permissions refuse (read-only, full, no permission, I/O error), as
    opposed to a file that is not ours, corrupt or from newer software: the controller may charge on
    without its log (controller/store/health.py) rather than refuse to start."""

    def __init__(self, path: Path | str, reason: str, *, environmental: bool = False) -> None:
        self.path = Path(path)
        self.reason = reason
        self.environmental = environmental
        super().__init__(f"store {self.path}: {reason}")
