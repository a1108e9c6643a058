"""The controller's recent log lines kept in memory: bounded in count and length, never failing the caller."""
from __future__ import annotations

import logging

import pytest

from controller.diagnostics.log_ring import LINE_MAX, RecentLog, recent_log

pytestmark = pytest.mark.timeout(10)


def _record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("controller.test", logging.WARNING, "", 0, msg, args, None)


def test_the_newest_lines_are_kept_each_cut_at_its_bound():
    ring = RecentLog(lines=3)
    for i in range(5):
        ring.handle(_record("line %d", i))
    ring.handle(_record("x" * 5000))
    lines = [line for _, line in ring.lines()]
    assert len(lines) == 3 and lines[0].endswith("line 3") and len(lines[-1]) == LINE_MAX


def test_a_bad_format_argument_is_kept_as_a_line_not_raised():
    ring = RecentLog()
    ring.handle(_record("needs two %s %s", "one"))
    assert "unformattable" in ring.lines()[0][1]


def test_one_ring_on_the_root_logger_whoever_asks():
    assert recent_log() is recent_log()
    assert sum(isinstance(h, RecentLog) for h in logging.getLogger().handlers) == 1
