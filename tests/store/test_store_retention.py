import pytest

from controller.store import Store
from tests.store.conftest import T0

pytestmark = pytest.mark.timeout(30)

DAY = 86400.0


def _reopen(db_path, clock, **kwargs) -> Store:
    store = Store(db_path, clock=clock, **kwargs)
    store.open()
    return store


def test_events_older_than_the_retention_go_at_open(db_path, clock):
    store = _reopen(db_path, clock, event_retention_days=10)
    store.event("old", "eleven days before the next open", t=T0 - 11 * DAY)
    store.event("new", "nine days before", t=T0 - 9 * DAY)
    store.close()
    store = _reopen(db_path, clock, event_retention_days=10)
    kinds = [e["kind"] for e in store.recent_events(limit=100)]
    assert "new" in kinds and "old" not in kinds
    store.close()


def test_events_beyond_the_row_limit_go_oldest_first(db_path, clock):
    store = _reopen(db_path, clock, event_max_rows=5)
    for n in range(12):
        store.event("n", str(n))
    store.close()
    store = _reopen(db_path, clock, event_max_rows=5)
    # The open logs `controller_down` before pruning: it counts as one of the five kept.
    events = store.recent_events(limit=100)
    assert events[0]["kind"] == "controller_down"
    assert [e["message"] for e in events[1:]] == ["11", "10", "9", "8"]
    store.close()


def test_the_writer_prunes_while_running(db_path, clock):
    store = _reopen(db_path, clock, event_max_rows=10)  # prunes after every 1000 events
    for n in range(1000):
        store.event("n", str(n))
    store.flush()  # the prune follows the batch that crossed 1000 events...
    store.flush()  # ...so it is done before this later batch
    events = store.recent_events(limit=2000)
    assert [e["message"] for e in events] == [str(n) for n in range(999, 989, -1)]
    store.close()


def test_finished_records_older_than_the_retention_go_but_open_ones_stay(db_path, clock):
    store = _reopen(db_path, clock)
    old = store.session_started(1, t=T0 - 500 * DAY)
    store.session_ended(old, energy_kwh=1, peak_kw=1, stop_reason="x", error_codes=[], t=T0 - 499 * DAY)
    recent = store.session_started(1, t=T0 - 300 * DAY)
    store.session_ended(recent, energy_kwh=1, peak_kw=1, stop_reason="x", error_codes=[], t=T0 - 299 * DAY)
    store.fault_raised("OLD", "warning", "x", 1, t=T0 - 500 * DAY)
    store.fault_cleared("OLD", 1, t=T0 - 499 * DAY)
    store.fault_raised("STILL_ACTIVE", "warning", "x", 1, t=T0 - 500 * DAY)
    store.outage_started(1, "old", t=T0 - 500 * DAY)
    store.outage_ended(1, t=T0 - 499 * DAY)
    store.outage_started(2, "never ended", t=T0 - 500 * DAY)
    store.close()
    store = _reopen(db_path, clock)
    assert [s["id"] for s in store.recent_sessions()] == [recent]
    assert [f["code"] for f in store.fault_history()] == ["STILL_ACTIVE"]
    assert [o["reason"] for o in store.outages()] == ["never ended"]
    store.close()


def test_the_default_keeps_records_for_more_than_twelve_months(db_path, clock):
    store = _reopen(db_path, clock)
    store.outage_started(1, "fault", t=T0 - 390 * DAY)
    store.outage_ended(1, t=T0 - 389 * DAY)
    store.close()
    store = _reopen(db_path, clock)
    assert [o["reason"] for o in store.outages()][0] == "fault"
    store.close()
