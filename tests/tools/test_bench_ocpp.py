"""The OCPP bench figure's own logic, without a rig: the queued events it replays are what the controller would
queue (schema-valid, seqNo without gaps, offline), and trigger times are matched to the right events."""
from __future__ import annotations

import asyncio
import json

import pytest
from ocpp.messages import Call, validate_payload

from controller.store.ocpp_queue import OcppQueue
from tools.bench.ocpp_figures import TRANSACTIONS, fill_store, queued_events, trigger_latencies

pytestmark = pytest.mark.timeout(60)


def test_queued_events_are_whole_schema_valid_offline_transactions():
    events = queued_events(1001, now=1_800_000_000.0)
    assert len(events) == 1001
    by_tx: dict[str, list[dict]] = {}
    for payload in events:
        by_tx.setdefault(payload["transactionInfo"]["transactionId"], []).append(payload)
        asyncio.run(validate_payload(Call("1", "TransactionEvent", payload), "2.0.1"))  # raises when invalid
    assert len(by_tx) == TRANSACTIONS
    assert sorted(e[0]["evse"]["id"] for e in by_tx.values()) == [1, 2, 3, 4]
    for tx_events in by_tx.values():
        assert [e["seqNo"] for e in tx_events] == list(range(len(tx_events)))
        assert tx_events[0]["eventType"] == "Started" and tx_events[-1]["eventType"] == "Ended"
        assert all(e["offline"] for e in tx_events)
        assert all(e["eventType"] == "Updated" for e in tx_events[1:-1])


def test_fill_store_queues_them_in_a_store_the_controller_opens(tmp_path):
    path = tmp_path / "store.sqlite"
    fill_store(path, 12)
    queue = OcppQueue(path)
    try:
        pending = queue.pending()
    finally:
        queue.close()
    assert [m.action for m in pending] == ["TransactionEvent"] * 12
    assert [m.payload["seqNo"] for m in pending[:3]] == [0, 1, 2]


def _in(t: float, payload: dict, uid: str) -> dict:
    return {"t": t, "dir": "in", "station": "S", "frame": json.dumps([2, uid, "TransactionEvent", payload])}


def _event(kind: str, tx: str, evse: int, state: str) -> dict:
    payload = {"eventType": kind, "transactionInfo": {"transactionId": tx, "chargingState": state}}
    if kind == "Started":
        payload["evse"] = {"id": evse, "connectorId": 1}
    return payload


def test_trigger_latencies_match_each_session_to_its_own_transaction():
    traffic = [
        _in(100.020, _event("Started", "a", 1, "EVConnected"), "1"),
        _in(100.030, _event("Started", "b", 2, "EVConnected"), "2"),  # another connector's, at the same time
        _in(101.006, _event("Updated", "a", 1, "Charging"), "3"),
        _in(102.015, _event("Ended", "a", 1, "Idle"), "4"),
        _in(103.050, _event("Started", "c", 1, "EVConnected"), "5"),  # the next car on connector 1
        _in(105.010, _event("Ended", "c", 1, "Idle"), "6"),
    ]
    sessions = [{"connector": 1, "plugged_t": 100.0, "unplugged_t": 102.0},
                {"connector": 1, "plugged_t": 103.0, "unplugged_t": 105.0}]
    phases = [(1, "charging", 101.0), (2, "charging", 101.5)]
    found = trigger_latencies(traffic, sessions, phases)
    assert found["plug_in_to_started"] == pytest.approx([20.0, 50.0])
    assert found["charging_to_updated"] == pytest.approx([6.0])  # the second car never charged
    assert found["unplug_to_ended"] == pytest.approx([15.0, 10.0])


def test_answered_events_counts_each_answer_once_reading_only_new_frames():
    from tools.bench.ocpp_figures import AnsweredEvents

    traffic = [_in(1.0, _event("Started", "a", 1, "EVConnected"), "1")]
    answered = AnsweredEvents(traffic)
    assert answered.count() == 0
    traffic.append({"t": 1.1, "dir": "out", "station": "S", "frame": json.dumps([3, "1", {}])})
    traffic.append({"t": 1.2, "dir": "out", "station": "S", "frame": json.dumps([3, "hb", {}])})  # not an event's
    assert answered.count() == 1 and answered.count() == 1
    traffic.append(_in(2.0, _event("Ended", "a", 1, "Idle"), "2"))
    traffic.append({"t": 2.1, "dir": "out", "station": "S", "frame": json.dumps([3, "2", {}])})
    assert answered.count() == 2


def test_queued_to_received_takes_the_events_own_timestamp_and_leaves_offline_ones_out():
    from tools.bench.ocpp_figures import queued_to_received_ms

    online = {**_event("Started", "a", 1, "EVConnected"), "timestamp": "2027-01-15T08:00:00.000Z"}
    offline = {**_event("Updated", "a", 1, "Charging"), "timestamp": "2027-01-15T07:00:00.000Z", "offline": True}
    made = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    traffic = [_in(made + 0.025, online, "1"), _in(made + 0.030, offline, "2")]
    assert queued_to_received_ms(traffic) == pytest.approx([25.0], abs=0.01)


def test_native_packages_names_each_installed_package_with_a_mapped_extension_once():
    from tools.bench.ocpp_figures import native_packages

    site = "/venv/lib/python3.11/site-packages"
    maps = "\n".join([
        f"7f00-7f10 r-xp 00000000 08:01 12 {site}/cryptography/hazmat/bindings/_rust.abi3.so",
        f"7f10-7f20 r--p 00010000 08:01 12 {site}/cryptography/hazmat/bindings/_rust.abi3.so",
        f"7f20-7f30 r-xp 00000000 08:01 13 {site}/_cffi_backend.cpython-311-x86_64-linux-gnu.so",
        "7f30-7f40 r-xp 00000000 08:01 14 /usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "7f40-7f50 rw-p 00000000 00:00 0 ",
        "7ffd-7ffe rw-p 00000000 00:00 0 [stack]"])
    assert native_packages(maps) == ["_cffi_backend", "cryptography"]
