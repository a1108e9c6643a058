"""The separate controller's stdout: each line becomes its declared event; a line that is not one is skipped."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from controller.formats.events import FaultRaised, PhaseChanged
from hil.controller_handle import SubprocessController

pytestmark = pytest.mark.timeout(10)


class PrintedLines:
    """Stands in for the child process: its stdout already holds these lines, then ends."""

    def __init__(self, lines: list[bytes]):
        self.stdout = asyncio.StreamReader()
        for line in lines:
            self.stdout.feed_data(line)
        self.stdout.feed_eof()


def test_lines_become_events_and_a_bad_line_is_skipped_with_a_warning(caplog):
    seen = []
    controller = SubprocessController(Path("cabinet.toml"), None, seen.append)
    lines = [b'{"event": "phase", "connector": 1, "state": "available", "t": 1.5}\n',
             b'{"event": "phase", "connector": 1, "t": 2.0}\n',  # no state: malformed
             b"Traceback (most recent call last):\n",
             b'{"event": "fault", "connector": 1, "code": "ESTOP_PRESSED", "severity": "emergency", '
             b'"detail": "pressed", "t": 3.0, "active": true}\n']

    async def read():
        controller.proc = PrintedLines(lines)
        await controller._read_process_events()  # the line reading; _read_events also waits for the exit

    with caplog.at_level(logging.WARNING, logger="hil.controller_handle"):
        asyncio.run(read())
    assert seen == [PhaseChanged(1, "available", 1.5), FaultRaised(1, "ESTOP_PRESSED", "emergency", "pressed", 3.0)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "missing field 'state'" in warnings[0] and "not JSON" in warnings[1]
