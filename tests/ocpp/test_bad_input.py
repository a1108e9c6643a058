"""Bad frames from the CSMS get a CALLERROR and the station keeps running on the same link."""
from __future__ import annotations

import json

import pytest

from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)

BAD_FRAMES = [
    ("not json at all {", "-1", {"RpcFrameworkError"}),
    ('{"a": 1}', "-1", {"RpcFrameworkError"}),
    ('[2, "m-types", "RequestStartTransaction", {"idToken": {"idToken": "X", "type": "Central"}, '
     '"remoteStartId": "seven"}]', "m-types", {"TypeConstraintViolation", "FormatViolation"}),
    ('[2, "m-missing", "RequestStopTransaction", {}]', "m-missing",
     {"OccurrenceConstraintViolation", "FormatViolation", "ProtocolError"}),
    ('[2, "m-unknown", "FlyToTheMoon", {}]', "m-unknown", {"NotSupported", "NotImplemented"}),
    # an action of 2.0.1 the station has no handler for (display messages, block O, are not built)
    ('[2, "m-nohandler", "ClearDisplayMessage", {"id": 1}]', "m-nohandler", {"NotImplemented"}),
    ('[2, "m-enum", "TriggerMessage", {"requestedMessage": "Coffee"}]', "m-enum",
     {"PropertyConstraintViolation", "FormatViolation", "TypeConstraintViolation"}),
]


def _call_errors(csms) -> list[tuple[str, str]]:
    found = []
    for entry in csms.traffic:
        if entry["dir"] == "in":
            frame = json.loads(entry["frame"])
            if frame[0] == 4:
                found.append((frame[1], frame[2]))
    return found


@run_async
async def test_bad_frames_get_callerror_and_the_link_lives_on():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        for count, (text, unique_id, codes) in enumerate(BAD_FRAMES, start=1):
            await csms.send_raw(STATION, text)
            errors = await csms.wait_for(lambda: len(_call_errors(csms)) >= count and _call_errors(csms), 5)
            assert len(errors) == count, text  # one answer per bad frame
            assert errors[-1][0] == unique_id and errors[-1][1] in codes, text
        answer = await csms.trigger(STATION, "Heartbeat")
        assert answer.status == "Accepted"
        await csms.wait_for(lambda: csms.calls("Heartbeat"), 5)
        assert service.accepted and service.connect_attempts == 1  # the same link throughout
    assert csms.violations == []


@run_async
async def test_unsupported_trigger_is_answered_not_implemented():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        answer = await csms.trigger(STATION, "PublishFirmwareStatusNotification")  # a local controller's message
        assert answer.status == "NotImplemented"
        answer = await csms.trigger(STATION, "StatusNotification", evse_id=1)
        assert answer.status == "Accepted"
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2, 5)
