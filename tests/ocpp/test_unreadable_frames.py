"""Frames that Python's json refuses with something other than a JSONDecodeError (an integer of more than 4300
digits: ValueError; arrays nested thousands deep: RecursionError) are answered like any unreadable frame, and
the frame log names them unreadable; before, the exception ended the link's read task (found by the
ocpp-csms-frame fuzz target). So is a CALL whose action is no string (a list made ocpp's lookup raise
TypeError and the CALL went unanswered)."""
from __future__ import annotations

import asyncio
import json

import pytest

from controller.ocpp.frame_log import FrameLog
from controller.ocpp.protocol import StationProtocol

pytestmark = pytest.mark.timeout(10)

FRAMES = [
    "9" * 4301,
    '[2, "big", "Heartbeat", {"x": ' + "7" * 5000 + "}]",
    "[" * 5000,
    '[2, "deep", "Heartbeat", {"x": ' + "[" * 5000 + "]" * 5000 + "}]",
]


class RecordingConnection:
    def __init__(self):
        self.sent: list[str] = []

    async def send(self, message):
        self.sent.append(message)


@pytest.mark.parametrize("frame", FRAMES, ids=["integer", "integer-in-call", "nested", "nested-in-call"])
def test_json_limits_get_one_rpc_framework_error(frame):
    connection, frames = RecordingConnection(), FrameLog()
    protocol = StationProtocol("CAB-1", connection, None, 2.0, lambda way, text: frames.note(way, text, 0.0))
    asyncio.run(protocol.route_message(frame))
    assert len(connection.sent) == 1
    answer = json.loads(connection.sent[0])
    assert answer[:3] == [4, "-1", "RpcFrameworkError"]
    assert [e.action for e in frames.entries] == ["unreadable", "? error"]  # in, then our answer


@pytest.mark.parametrize("action", [["Heartbeat"], {"a": 1}, 5, None])
def test_a_call_whose_action_is_no_string_gets_one_format_violation(action):
    connection = RecordingConnection()
    protocol = StationProtocol("CAB-1", connection, None, 2.0)
    asyncio.run(protocol.route_message(json.dumps([2, "m1", action, {}])))
    assert len(connection.sent) == 1
    assert json.loads(connection.sent[0])[:3] == [4, "m1", "FormatViolation"]
