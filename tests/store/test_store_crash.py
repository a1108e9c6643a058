"""A controller that dies (SIGKILL, power cut) and the records found at the next open()."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controller.store import Store
from controller.store.recovery import INTERRUPTED_REASON, REASON_CRASH, REASON_STOPPED
from tests.fakes.clock import FakeClock
from tests.store.conftest import T0

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]

# The child charges on connector 2 and checkpoints twice, heartbeats, makes sure it is all on
# disk, says so, and waits to be killed. Its clock is fixed so the test knows every time.
CHILD = textwrap.dedent("""
    import sys, time
    from controller.store import Store
    now = [float(sys.argv[2])]
    store = Store(sys.argv[1], clock=lambda: now[0])
    store.open()
    store.event("boot", "controller started", connector=1)
    sid = store.session_started(2, evcc_id="00:11:22:33:44:55")
    now[0] += 30
    store.session_progress(sid, 0.8, 45.0)
    now[0] += 30
    store.session_progress(sid, 1.75, 49.5)
    store.heartbeat()
    store.flush()
    print(sid, flush=True)
    time.sleep(60)
""")


def test_sigkill_mid_session_leaves_an_interrupted_session_and_an_outage(db_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db_path), str(T0)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip().isdigit(), f"child failed: {line!r} {child.stderr.read() if not line else ''}"
        sid = int(line)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    clock = FakeClock(T0 + 60 + 900)  # restarted 15 minutes after the last heartbeat
    store = Store(db_path, clock=clock)
    report = store.open()
    try:
        assert report.interrupted_sessions == [sid]
        assert report.downtime_s == 900
        session = store.recent_sessions()[0]
        assert (session["status"], session["energy_kwh"], session["peak_kw"]) == ("interrupted", 1.75, 49.5)
        assert (session["start_t"], session["end_t"]) == (T0, T0 + 60)
        assert session["stop_reason"] == INTERRUPTED_REASON
        assert session["evcc_id"] == "00:11:22:33:44:55"
        # Every port the store has seen (1 through an event, 2 through the session) was down.
        assert [(o["connector"], o["start_t"], o["end_t"], o["excluded"], o["reason"])
                for o in store.outages()] == [(1, T0 + 60, clock.now, False, REASON_CRASH),
                                              (2, T0 + 60, clock.now, False, REASON_CRASH)]
        assert store.recent_events()[0]["kind"] == "controller_down"
        assert store.session_started(2) == sid + 1
    finally:
        store.close()


@pytest.fixture
def abandon(db_path):
    """Opens a store whose controller then stops without close(); its thread is reaped at teardown."""
    stores = []

    def open_and_abandon(clock: FakeClock) -> Store:
        store = Store(db_path, clock=clock)
        store.open()
        stores.append(store)
        return store

    yield open_and_abandon
    for store in stores:
        store.close()


def test_session_end_is_the_latest_sign_of_life(db_path, clock, abandon):
    dead = abandon(clock)
    sid = dead.session_started(1)
    clock.advance(10)
    dead.heartbeat()
    clock.advance(3)
    dead.session_progress(sid, 0.2, 30.0)  # after the last heartbeat
    dead.flush()
    clock.advance(100)
    store = Store(db_path, clock=clock)
    report = store.open()
    assert report.downtime_s == 100
    assert store.recent_sessions()[0]["end_t"] == T0 + 13
    assert store.outages()[0]["start_t"] == T0 + 13
    store.close()


def test_an_open_outage_stays_open_and_covers_the_downtime(db_path, clock, abandon):
    dead = abandon(clock)
    dead.outage_started(1, "fault: GROUP_LOST")
    dead.event("cp", "A", connector=2)
    clock.advance(20)
    dead.heartbeat()
    dead.flush()
    clock.advance(40)
    store = Store(db_path, clock=clock)
    store.open()
    rows = [(o["connector"], o["start_t"], o["end_t"], o["reason"]) for o in store.outages()]
    assert rows == [(1, T0, None, "fault: GROUP_LOST"), (2, T0 + 20, T0 + 60, REASON_CRASH)]
    store.outage_ended(1)  # the controller ends it once the port works again
    store.flush()
    assert store.outages(connector=1)[0]["end_t"] == T0 + 60
    store.close()


def test_a_clean_stop_is_still_downtime_with_its_own_reason(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    store.event("cp", "A", connector=1)
    clock.advance(5)
    store.close()
    clock.advance(3600)
    store = Store(db_path, clock=clock)
    report = store.open()
    assert report.downtime_s == 3600 and report.interrupted_sessions == []
    assert [(o["start_t"], o["end_t"], o["reason"]) for o in store.outages()] == [
        (T0 + 5, T0 + 3605, REASON_STOPPED)]
    store.close()


def test_a_clock_that_went_backwards_books_no_outage(db_path, clock, abandon):
    dead = abandon(clock)
    dead.event("cp", "A", connector=1)
    dead.heartbeat()
    dead.flush()
    clock.now = 100.0  # a board without RTC, booting before NTP
    store = Store(db_path, clock=clock)
    report = store.open()
    assert report.downtime_s is None
    assert store.outages() == []
    assert store.recent_events()[0]["kind"] == "clock_backwards"
    store.close()


def test_session_ids_are_not_reused_after_the_sessions_are_pruned(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    sid = store.session_started(1)
    store.session_ended(sid, energy_kwh=1, peak_kw=1, stop_reason="ev_request", error_codes=[])
    store.close()
    clock.advance(500 * 86400)
    store = Store(db_path, clock=clock)
    store.open()
    assert store.recent_sessions() == []
    assert store.session_started(1) == sid + 1
    store.close()
