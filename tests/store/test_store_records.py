import sqlite3

import pytest

from controller.store import Store, StoreError
from tests.store.conftest import T0

pytestmark = pytest.mark.timeout(30)


def test_events_read_back_newest_first_with_data(store, clock):
    store.event("boot", "controller started", data={"version": "0.1.0"})
    clock.advance(1)
    store.event("cp", "state B", connector=1, data={"cp": "B"})
    store.event("cp", "state A", connector=2, t=T0 + 5)
    store.flush()
    events = store.recent_events()
    assert [e["message"] for e in events] == ["state A", "state B", "controller started"]
    assert events[1] == {"id": 2, "t": T0 + 1, "connector": 1, "kind": "cp", "message": "state B",
                         "data": {"cp": "B"}}
    assert events[0]["t"] == T0 + 5 and events[0]["data"] is None
    assert [e["message"] for e in store.recent_events(connector=1)] == ["state B"]
    assert len(store.recent_events(limit=2)) == 2


def test_event_data_is_captured_at_call_time(store):
    data = {"soc": 40}
    store.event("ev", "soc", data=data)
    data["soc"] = 90
    store.flush()
    assert store.recent_events()[0]["data"] == {"soc": 40}


def test_event_data_that_json_cannot_encode_is_kept_as_text(store, tmp_path):
    store.event("config", "loaded", data={"path": tmp_path})
    store.flush()
    assert store.recent_events()[0]["data"] == {"path": str(tmp_path)}


def test_fault_raise_and_clear(store, clock):
    store.fault_raised("CP_STATE_E", "emergency", "CP at 0 V", 1)
    store.fault_raised("ESTOP_PRESSED", "emergency", "button", None, t=T0 + 1)
    store.flush()
    assert [(f["code"], f["connector"], f["active"]) for f in store.active_faults()] == [
        ("CP_STATE_E", 1, True), ("ESTOP_PRESSED", None, True)]
    store.fault_cleared("ESTOP_PRESSED", None, t=T0 + 30)
    store.flush()
    assert [f["code"] for f in store.active_faults()] == ["CP_STATE_E"]
    history = store.fault_history()
    assert [(f["code"], f["cleared_t"], f["active"]) for f in history] == [
        ("ESTOP_PRESSED", T0 + 30, False), ("CP_STATE_E", None, True)]
    assert history[1]["severity"] == "emergency" and history[1]["detail"] == "CP at 0 V"


def test_a_fault_raised_again_while_active_stays_one_row(store, clock):
    store.fault_raised("MODULE_LOST", "warning", "module 3", 2)
    clock.advance(10)
    store.fault_raised("MODULE_LOST", "warning", "module 3", 2)
    store.fault_raised("MODULE_LOST", "warning", "module 3", 1)  # another port: its own row
    store.flush()
    rows = store.active_faults()
    assert [(f["connector"], f["raised_t"]) for f in rows] == [(2, T0), (1, T0 + 10)]


def test_clearing_only_touches_the_same_code_and_connector(store):
    store.fault_raised("CP_STATE_E", "emergency", "x", 1)
    store.fault_raised("CP_STATE_E", "emergency", "x", 2)
    store.fault_cleared("CP_STATE_E", 1)
    store.fault_cleared("NOT_RAISED", 2)
    store.flush()
    assert [f["connector"] for f in store.active_faults()] == [2]


def test_session_lifecycle(store, clock):
    sid = store.session_started(1, evcc_id="0A1B2C3D4E5F")
    clock.advance(60)
    store.session_progress(sid, 1.2, 48.5)
    store.flush()
    running = store.recent_sessions()[0]
    assert running["status"] == "running" and running["energy_kwh"] == 1.2 and running["end_t"] is None
    clock.advance(600)
    store.session_ended(sid, energy_kwh=8.4, peak_kw=51.0, stop_reason="ev_request", error_codes=[],
                        energy_source="meter")
    store.flush()
    assert store.recent_sessions() == [{
        "id": sid, "connector": 1, "start_t": T0, "end_t": T0 + 660, "energy_kwh": 8.4, "peak_kw": 51.0,
        "stop_reason": "ev_request", "error_codes": [], "evcc_id": "0A1B2C3D4E5F",
        "energy_source": "meter", "status": "ended", "duration_s": 660.0}]


def test_a_failed_session_keeps_its_error_codes(store):
    sid = store.session_started(2)
    store.session_ended(sid, energy_kwh=0.1, peak_kw=3.0, stop_reason="fault",
                        error_codes=["CONTACTOR_NOT_CLOSED", "CP_STATE_E"], t=T0 + 20)
    store.flush()
    assert store.recent_sessions(connector=2)[0]["error_codes"] == ["CONTACTOR_NOT_CLOSED", "CP_STATE_E"]
    assert store.recent_sessions(connector=1) == []


def test_session_ids_are_returned_at_once_and_increase(store):
    ids = [store.session_started(c) for c in (1, 2, 1)]
    assert ids == [1, 2, 3]
    store.flush()
    assert [s["id"] for s in store.recent_sessions(limit=2)] == [3, 2]


def test_progress_after_the_end_does_not_overwrite_the_final_record(store):
    sid = store.session_started(1)
    store.session_ended(sid, energy_kwh=5.0, peak_kw=20.0, stop_reason="ev_request", error_codes=[])
    store.session_progress(sid, 4.0, 19.0)
    store.flush()
    assert store.recent_sessions()[0]["energy_kwh"] == 5.0


def test_outage_start_end_and_listing(store, clock):
    store.outage_started(1, "fault: CP_STATE_E")
    store.outage_started(2, "utility outage", excluded=True, t=T0 + 5)
    clock.advance(120)
    store.outage_ended(1)
    store.flush()
    rows = store.outages()
    assert [(o["connector"], o["start_t"], o["end_t"], o["excluded"], o["open"]) for o in rows] == [
        (1, T0, T0 + 120, False, False), (2, T0 + 5, None, True, True)]
    assert rows[0]["duration_s"] == 120 and rows[1]["duration_s"] == 115  # open: up to now
    assert [o["connector"] for o in store.outages(connector=2)] == [2]
    assert [o["connector"] for o in store.outages(since=T0 + 121)] == [2]


def test_a_new_reason_closes_the_open_outage_and_starts_another(store):
    store.outage_started(1, "fault")
    store.outage_started(1, "fault", t=T0 + 10)  # same reason: nothing new
    store.outage_started(1, "utility outage", excluded=True, t=T0 + 60)
    store.outage_ended(1, t=T0 + 90)
    store.outage_ended(1, t=T0 + 95)  # none open: nothing happens
    store.flush()
    assert [(o["start_t"], o["end_t"], o["excluded"], o["reason"]) for o in store.outages()] == [
        (T0, T0 + 60, False, "fault"), (T0 + 60, T0 + 90, True, "utility outage")]


@pytest.mark.parametrize("call, message", [
    (lambda s: s.event("x", "y", connector=-1), "connector must be a non-negative int"),
    (lambda s: s.event("x", "y", connector=True), "connector must be"),
    (lambda s: s.session_started(None), "connector must be a non-negative int, got None"),
    (lambda s: s.session_progress(1, float("nan"), 1.0), "energy_kwh must be finite"),
    (lambda s: s.session_ended(1, energy_kwh="lots", peak_kw=1, stop_reason="x", error_codes=[]),
     "energy_kwh must be a number"),
    (lambda s: s.outage_started(1, "x", t="noon"), "t must be a number"),
    (lambda s: s.recent_events(limit=0), "limit must be a positive int"),
])
def test_bad_arguments_raise_a_clear_error_at_the_call(store, call, message):
    with pytest.raises(ValueError, match=message):
        call(store)


def test_calls_before_open_and_after_close_name_the_file(db_path, clock):
    store = Store(db_path, clock=clock)
    with pytest.raises(StoreError, match="not open") as caught:
        store.event("x", "y")
    assert str(db_path) in str(caught.value)
    store.open()
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(StoreError, match="closed"):
        store.session_started(1)
    with pytest.raises(StoreError, match="closed"):
        store.recent_events()
    with pytest.raises(StoreError, match="once"):
        store.open()


@pytest.mark.parametrize("kwargs, message", [
    ({"record_retention_days": 300}, "at least 366"),
    ({"event_max_rows": 0}, "event_max_rows"),
    ({"event_retention_days": 0}, "event_retention_days"),
    ({"heartbeat_s": 0}, "heartbeat_s"),
])
def test_bad_configuration_is_refused(db_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Store(db_path, **kwargs)


def test_a_bad_write_is_dropped_alone_and_flush_reports_it(store):
    from controller.store.writes import WriteOp

    store.session_started(1)
    store.flush()
    # A duplicate session id cannot come from the public API; push one straight to the writer.
    store.event("a", "before")
    store._writer.submit(WriteOp("session_started", (1, 1, T0, None), True, 1))
    store.event("b", "after")
    with pytest.raises(StoreError, match="session_started: UNIQUE constraint failed"):
        store.flush()
    assert [e["kind"] for e in store.recent_events()] == ["b", "a"]
    assert store.writer_stats.dropped_ops == 1
    store.event("c", "later")
    store.flush()  # the writer keeps going
    assert store.recent_events()[0]["kind"] == "c"


def test_a_database_locked_by_another_process_loses_the_batch_and_the_writer_carries_on(
        db_path, clock, monkeypatch):
    from controller.store import database_file, writer

    monkeypatch.setattr(database_file, "BUSY_TIMEOUT_MS", 5)
    monkeypatch.setattr(writer, "RETRY_DELAYS_S", (0.001,))
    store = Store(db_path, clock=clock)
    store.open()
    intruder = sqlite3.connect(db_path, isolation_level=None)
    try:
        intruder.execute("BEGIN IMMEDIATE")  # holds the write lock
        store.event("lost", "while locked")
        with pytest.raises(StoreError, match="database is locked"):
            store.flush()
        intruder.execute("ROLLBACK")
        store.event("kept", "after the lock")
        store.flush()
    finally:
        intruder.close()
    assert [e["kind"] for e in store.recent_events()] == ["kept"]
    assert store.writer_stats.dropped_ops >= 1 and "locked" in store.writer_stats.last_error
    store.close()
