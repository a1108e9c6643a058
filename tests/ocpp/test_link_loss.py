"""A CSMS that stops answering: pings find a dead link, an unanswered CALL is sent again after the reconnect."""
from __future__ import annotations

import pytest

from controller.store.ocpp_variables import VariableStore
from hil.csms import CsmsSimulator
from tests.ocpp.harness import PASSWORD, STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


@run_async
async def test_a_csms_that_stops_reading_is_found_by_pings_and_the_station_reconnects():
    connector = FakeConnector(1)
    async with station_and_csms([connector], websocket_ping_interval_s=0.3) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        csms.peer(STATION)._connection.transport.pause_reading()  # hung: no pong, no answer
        await csms.wait_for(lambda: len(csms.calls("BootNotification")) >= 2, 5)
    assert service.connect_attempts >= 2


@run_async
async def test_an_unanswered_transaction_event_is_sent_again_after_the_reconnect():
    connector = FakeConnector(1)
    csms = CsmsSimulator(password=PASSWORD)
    csms.leave_unanswered.add("TransactionEvent")
    variables = VariableStore()
    variables.save("OCPPCommCtrlr///MessageAttemptInterval/TransactionEvent", "1")  # the retry's wait: 1 x 1 s
    async with station_and_csms([connector], csms=csms, response_timeout_s=0.5, variables=variables,
                                websocket_ping_interval_s=10.0) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.move("plugged")
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) >= 2 and len(service.queue) == 0, 10)
    first, again = csms.calls("TransactionEvent")[:2]
    assert first == again  # the same event, same seqNo: the CSMS can tell it is a repeat
    sent = [entry["t"] for entry in csms.traffic if entry["dir"] == "in" and '"TransactionEvent"' in entry["frame"]]
    assert sent[1] - sent[0] >= 1.0  # MessageAttemptInterval after the first attempt, not at once
    assert len(csms.calls("BootNotification")) >= 2
