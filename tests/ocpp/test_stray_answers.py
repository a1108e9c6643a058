"""Answers from the CSMS to no CALL of the station are dropped, not queued: a CSMS repeating stray CALLRESULTs
must not grow the station's memory (found by the ocpp-csms-frame fuzz target), and a real answer still
reaches the call that waits for it."""
from __future__ import annotations

import asyncio
import json

import pytest
from ocpp.v201 import call

from controller.ocpp.protocol import StationProtocol

pytestmark = pytest.mark.timeout(10)


class RecordingConnection:
    def __init__(self):
        self.sent: list[str] = []

    async def send(self, message):
        self.sent.append(message)


def _protocol() -> tuple[StationProtocol, RecordingConnection]:
    connection = RecordingConnection()
    return StationProtocol("CAB-1", connection, actions=None, response_timeout=2.0), connection


def test_stray_answers_are_neither_kept_nor_answered():
    async def body():
        protocol, connection = _protocol()
        for index in range(3000):
            await protocol.route_message(json.dumps([3, f"stray-{index}", {}]))
            await protocol.route_message(json.dumps([4, f"stray-{index}", "InternalError", "", {}]))
        await protocol.route_message(json.dumps([3, ["unhashable"], {}]))
        assert protocol._response_queue.qsize() == 0
        assert connection.sent == []
    asyncio.run(body())


def test_the_awaited_answer_still_reaches_its_call_past_stray_ones():
    async def body():
        protocol, connection = _protocol()
        waiting = asyncio.create_task(protocol.call(call.Heartbeat(), suppress=False))
        while not connection.sent:
            await asyncio.sleep(0)
        unique_id = json.loads(connection.sent[0])[1]
        await protocol.route_message(json.dumps([3, "someone-else", {"currentTime": "2024-01-01T00:00:00Z"}]))
        await protocol.route_message(json.dumps([3, unique_id, {"currentTime": "2024-01-01T00:00:00Z"}]))
        answer = await asyncio.wait_for(waiting, 2.0)
        assert answer.current_time == "2024-01-01T00:00:00Z"
        assert protocol._response_queue.qsize() == 0
    asyncio.run(body())
