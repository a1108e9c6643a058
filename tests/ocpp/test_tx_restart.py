"""Transactions across restarts: an open transaction's state is stored with each of its events; the next
start ends it (PowerLoss after a crash, Reboot after a clean stop) with the next seqNo, or continues it when
its session really goes on."""
from __future__ import annotations

import random
import sqlite3

import pytest

from controller.ocpp import OcppService
from controller.store.ocpp_queue import OcppQueue
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms, station_config

pytestmark = pytest.mark.timeout(30)
CHARGING = ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge", "charging")


def _station(path, connector, t=1000.0):
    """A station that never reaches a CSMS (not started): every event is queued as made offline."""
    service = OcppService(station_config("ws://127.0.0.1:9"), STATION, [connector], queue=OcppQueue(path),
                          clock=lambda: t, rng=random.Random(1))
    connector.sink = service.on_event
    return service


def _events(path):
    queue = OcppQueue(path)
    try:
        return [m.payload for m in queue.pending()]
    finally:
        queue.close()


def _charge_then_crash(path) -> FakeConnector:
    connector = FakeConnector(1)
    service = _station(path, connector)
    for state in CHARGING:
        connector.move(state)
    service.queue.close()  # no clean stop: what kill -9 or a power cut leaves
    return connector


def test_a_crash_ends_the_open_transaction_as_power_loss_with_the_next_seq_no(tmp_path):
    path = tmp_path / "store.sqlite"
    _charge_then_crash(path)
    before = _events(path)
    _station(path, FakeConnector(1), t=2000.0).queue.close()  # the restart: the car's session is gone
    events = _events(path)
    ended = events[-1]
    assert len(events) == len(before) + 1 and ended["eventType"] == "Ended"
    assert ended["transactionInfo"]["transactionId"] == before[0]["transactionInfo"]["transactionId"]
    assert [e["seqNo"] for e in events] == list(range(len(events)))  # no gap, no repeat
    assert ended["transactionInfo"]["stoppedReason"] == "PowerLoss"
    assert ended["triggerReason"] == "AbnormalCondition" and ended["offline"] is True
    assert ended["meterValue"][0]["sampledValue"][0]["value"] == 1500.0  # the last register known
    assert ended["timestamp"] == "1970-01-01T00:16:40.000Z"  # the last instant it is known to have run
    _station(path, FakeConnector(1)).queue.close()  # a third start: nothing open any more
    assert len(_events(path)) == len(events)


def test_a_clean_stop_ends_it_as_reboot(tmp_path):
    path = tmp_path / "store.sqlite"
    connector = FakeConnector(1)
    service = _station(path, connector)
    for state in CHARGING:
        connector.move(state)
    service.note_clean_stop()
    service.queue.close()
    _station(path, FakeConnector(1)).queue.close()
    assert _events(path)[-1]["transactionInfo"]["stoppedReason"] == "Reboot"


def test_a_session_that_goes_on_keeps_its_transaction_and_counts_on(tmp_path):
    path = tmp_path / "store.sqlite"
    connector = _charge_then_crash(path)  # the same connector object: its session runs on
    before = _events(path)
    service = _station(path, connector)
    assert service.transactions[1].transaction_id == before[0]["transactionInfo"]["transactionId"]
    connector.move("stopping")
    connector.move("available")
    events = _events(path)
    assert [e["eventType"] for e in events[len(before):]] == ["Updated", "Ended"]
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert events[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1


def test_the_stored_seq_no_and_the_queue_change_in_one_commit(tmp_path):
    path = tmp_path / "store.sqlite"
    connector = FakeConnector(1)
    service = _station(path, connector)
    connector.move("plugged")
    tx = service.transactions[1]
    service.queue.connection.execute("DROP TABLE ocpp_queue")  # the next append fails inside the commit
    with pytest.raises(sqlite3.OperationalError):
        service._enqueue(tx.event("Updated", "Trigger", 0.0), tx)
    state, _ = service._open.store.load()[1]
    assert state["seq_no"] == 1 and tx.seq_no == 1  # neither stored nor used up: the next event gets seqNo 1


@run_async
async def test_after_a_crash_the_csms_gets_every_seq_no_once_and_the_end_offline(tmp_path):
    path = tmp_path / "store.sqlite"
    connector = FakeConnector(1)
    async with station_and_csms([connector], queue=OcppQueue(path)) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        for state in CHARGING:
            connector.move(state)
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) == 2 and len(service.queue) == 0, 5)
    # the service above was closed without a clean stop: a crash as far as the store can tell
    async with station_and_csms([FakeConnector(1)], csms=csms, queue=OcppQueue(path)) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) == 3 and len(service.queue) == 0, 5)
    events = csms.calls("TransactionEvent")
    assert [e["seqNo"] for e in events] == [0, 1, 2] and events[-1]["eventType"] == "Ended"
    assert events[-1]["transactionInfo"]["stoppedReason"] == "PowerLoss"
    assert "offline" not in events[-1]  # the link was up when the power went
    assert csms.violations == []


@run_async
async def test_the_controllers_clean_stop_marks_the_open_transaction_for_a_reboot_end(tmp_path):
    from controller.ocpp.transactions import Transaction
    from controller.store.ocpp_transactions import TransactionStore
    from tests.console.harness import cabinet

    async with cabinet(tmp_path, store=True, ocpp=station_config("ws://127.0.0.1:9")) as cab:
        tx = Transaction(1)  # as a plug-in would have made it (the car is not the point here)
        cab.app.ocpp._open.record(tx, tx.event("Started", "CablePluggedIn", 0.0), online=False)
    conn = sqlite3.connect(tmp_path / "store.db")  # after app.stop(): the orderly stop of the controller
    try:
        assert TransactionStore(conn).load()[1][1] is True  # clean_stop: the next start ends it as Reboot
    finally:
        conn.close()
