"""The controller's own recent log lines, kept in memory for the diagnostics archive.

The controller logs to stderr (journald on a cabinet); a copy of the last lines is kept here so an archive
always has them, also where no log file is written.
"""
from __future__ import annotations

import logging
import threading
from collections import deque

LINES = 3000  # log lines kept (at most 3 MB, typically well under 1 MB)
LINE_MAX = 1000  # characters of one line kept (a traceback is cut here)


class RecentLog(logging.Handler):
    def __init__(self, lines: int = LINES) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._lines: deque[tuple[float, str]] = deque(maxlen=lines)
        self._guard = threading.Lock()  # the store's writer thread logs too

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)[:LINE_MAX]
        except Exception:  # a bad format argument: logging must never fail the caller
            line = f"{record.levelname} {record.name}: (unformattable message {record.msg!r:.200})"
        with self._guard:
            self._lines.append((record.created, line))

    def lines(self) -> list[tuple[float, str]]:
        """(time, line), oldest first."""
        with self._guard:
            return list(self._lines)


_installed: RecentLog | None = None


def recent_log() -> RecentLog:
    """The one RecentLog on the root logger, installed on first use."""
    global _installed
    if _installed is None:
        _installed = RecentLog()
        logging.getLogger().addHandler(_installed)
    return _installed
