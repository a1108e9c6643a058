"""The CSMS goes away mid-session and comes back: charging goes on, every TransactionEvent arrives once, in
order, seqNo without gaps, offline=true exactly for those made while the link was down."""
from __future__ import annotations

import asyncio

import pytest

from controller.store.ocpp_queue import OcppQueue
from hil.csms import CsmsSimulator
from tests.ocpp.harness import PASSWORD, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


@run_async
async def test_offline_session_events_arrive_once_in_order(tmp_path):
    connector = FakeConnector(1)
    queue = OcppQueue(tmp_path / "store.sqlite")
    csms = CsmsSimulator(password=PASSWORD)
    async with station_and_csms([connector], csms=csms, queue=queue) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.move("plugged")
        for state in ("negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge"):
            connector.move(state)
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) == 1 and len(queue) == 0, 5)
        await csms.stop()  # the CSMS goes away while the car charges
        await asyncio.sleep(0.2)
        assert not service.accepted
        connector.move("charging")
        service.trigger("TransactionEvent", 1)  # asked before: still queued while offline
        for state in ("stopping", "welding_detection", "session_end"):
            connector.move(state)
        assert len(queue) >= 2  # on disk, waiting for the CSMS
        await csms.start()  # same port: the station reconnects by itself
        await csms.wait_for(lambda: csms.calls("TransactionEvent")
                            and csms.calls("TransactionEvent")[-1]["transactionInfo"]["chargingState"]
                            == "EVConnected" and len(queue) == 0, 10)
        connector.move("available")  # unplugged once the link is back
        await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended"
                            and len(queue) == 0, 5)
    events = csms.calls("TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert len({e["seqNo"] for e in events}) == len(events)  # none twice
    assert events[0]["eventType"] == "Started" and not events[0].get("offline")
    offline = [e for e in events if e.get("offline")]
    assert [e["transactionInfo"]["chargingState"] for e in offline] == ["Charging", "EVConnected"]
    assert not events[-1].get("offline") and events[-1]["eventType"] == "Ended"
    assert csms.violations == [] and len(queue) == 0


@run_async
async def test_queued_events_survive_a_restart_of_the_station(tmp_path):
    """Written before sending: what a dead station left in the store goes out after the next start."""
    path = tmp_path / "store.sqlite"
    left = OcppQueue(path)
    left.append("TransactionEvent", {"eventType": "Ended", "timestamp": "2026-01-01T00:00:00Z",
                                     "triggerReason": "EVDeparted", "seqNo": 4, "offline": True,
                                     "transactionInfo": {"transactionId": "tx-1", "stoppedReason": "Local"}})
    left.close()
    connector = FakeConnector(1)
    queue = OcppQueue(path)
    async with station_and_csms([connector], queue=queue) as (service, csms):
        await csms.wait_for(lambda: csms.calls("TransactionEvent") and len(queue) == 0, 5)
    assert csms.calls("TransactionEvent")[0]["transactionInfo"]["transactionId"] == "tx-1"
    assert len(OcppQueue(path)) == 0 and len(csms.calls("TransactionEvent")) == 1
