"""MessageAttempts / MessageAttemptInterval: a TransactionEvent the CSMS refuses (CALLERROR) is sent again
after attempt x interval, at most MessageAttempts times, then dropped with a log line; the queue goes on."""
from __future__ import annotations

import json
import logging

import pytest

from controller.store.ocpp_variables import VariableStore
from hil.csms import CsmsSimulator
from tests.ocpp.harness import PASSWORD, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)
KEY = "OCPPCommCtrlr///{}/TransactionEvent"


def _variables(attempts: int, interval_s: int) -> VariableStore:
    variables = VariableStore()
    variables.save(KEY.format("MessageAttempts"), str(attempts))
    variables.save(KEY.format("MessageAttemptInterval"), str(interval_s))
    return variables


def _arrivals(csms) -> list[tuple[float, int]]:
    """(time, seqNo) of every TransactionEvent CALL the CSMS received."""
    found = []
    for entry in csms.traffic:
        if entry["dir"] == "in" and '"TransactionEvent"' in entry["frame"]:
            frame = json.loads(entry["frame"])
            if frame[0] == 2:
                found.append((entry["t"], frame[3]["seqNo"]))
    return found


@run_async
async def test_a_refused_event_is_retried_after_attempt_times_interval_and_then_goes_through():
    connector = FakeConnector(1)
    csms = CsmsSimulator(password=PASSWORD)
    async with station_and_csms([connector], csms=csms, variables=_variables(3, 1)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        csms.refuse["TransactionEvent"] = 2
        connector.move("plugged")
        connector.move("charging")
        await csms.wait_for(lambda: len(_arrivals(csms)) == 4 and len(service.queue) == 0, 10)
    arrivals = _arrivals(csms)
    assert [seq for _, seq in arrivals] == [0, 0, 0, 1]  # the third attempt is answered; then the next
    gaps = [arrivals[1][0] - arrivals[0][0], arrivals[2][0] - arrivals[1][0]]
    assert 1.0 <= gaps[0] < 1.9 and 2.0 <= gaps[1] < 2.9  # 1 x interval, then 2 x interval
    assert service._sender.dropped == 0 and csms.violations == []


@run_async
async def test_after_message_attempts_the_event_is_dropped_with_a_log_line_and_the_queue_goes_on(caplog):
    connector = FakeConnector(1)
    csms = CsmsSimulator(password=PASSWORD)
    async with station_and_csms([connector], csms=csms, variables=_variables(2, 0)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        csms.refuse["TransactionEvent"] = 6
        with caplog.at_level(logging.WARNING, logger="controller.ocpp.queue_sender"):
            connector.move("plugged")
            connector.move("charging")
            connector.move("available")
            await csms.wait_for(lambda: len(service.queue) == 0, 10)
        csms.refuse.clear()
        connector.move("plugged")  # the next transaction is not held up by the dropped ones
        await csms.wait_for(lambda: len(_arrivals(csms)) == 7 and len(service.queue) == 0, 10)
    assert [seq for _, seq in _arrivals(csms)] == [0, 0, 1, 1, 2, 2, 0]  # two attempts each, then the next
    assert service._sender.dropped == 3
    dropped = [r.getMessage() for r in caplog.records if "dropped after 2 attempts" in r.getMessage()]
    assert len(dropped) == 3 and "seqNo 0" in dropped[0]
