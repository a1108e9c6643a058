"""Many callers at once, and close() while writes are still queued."""
import sqlite3
import threading

import pytest

from controller.store import Store

pytestmark = pytest.mark.timeout(60)

THREADS = 8
PER_THREAD = 200


def test_calls_from_many_threads_all_land_with_unique_session_ids(store, db_path):
    session_ids: list[int] = []
    ids_lock = threading.Lock()
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def caller(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                store.event("load", f"{n}:{i}", connector=n % 4, data={"n": n, "i": i})
                if i % 20 == 0:
                    sid = store.session_started(n % 4)
                    store.session_progress(sid, i / 10, 50.0)
                    store.session_ended(sid, energy_kwh=i / 10, peak_kw=50.0, stop_reason="ev_request",
                                        error_codes=[])
                    with ids_lock:
                        session_ids.append(sid)
                if i % 50 == 0:
                    store.recent_events(limit=5)  # reads beside the writes
                    store.uptime(n % 4)
        except BaseException as exc:  # reported below, never lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    store.flush()
    assert len(set(session_ids)) == len(session_ids) == THREADS * PER_THREAD // 20
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == THREADS * PER_THREAD
        assert conn.execute("SELECT count(DISTINCT message) FROM events").fetchone()[0] == THREADS * PER_THREAD
        ended = conn.execute("SELECT count(*) FROM sessions WHERE status = 'ended'").fetchone()[0]
        assert ended == len(session_ids)
        assert sorted(row[0] for row in conn.execute("SELECT connector FROM ports")) == [0, 1, 2, 3]
    assert store.writer_stats.dropped_ops == 0


def test_close_writes_everything_still_queued(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    for n in range(5000):
        store.event("burst", str(n))
    sid = store.session_started(1)
    store.session_ended(sid, energy_kwh=2.5, peak_kw=40.0, stop_reason="ev_request", error_codes=[])
    store.close()  # no flush before
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'burst'").fetchone()[0] == 5000
        assert conn.execute("SELECT status, energy_kwh FROM sessions").fetchall() == [("ended", 2.5)]
        runtime = dict(conn.execute("SELECT key, value FROM runtime"))
    assert runtime["clean_stop"] == 1.0


def test_writes_racing_with_close_are_written_or_refused(db_path, clock):
    from controller.store import StoreError

    store = Store(db_path, clock=clock)
    store.open()
    accepted = []
    stop = threading.Event()
    hundred_accepted = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            try:
                store.event("race", str(n))
            except StoreError:
                return  # refused after close: the caller knows
            accepted.append(n)
            n += 1
            if n == 100:
                hundred_accepted.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert hundred_accepted.wait(10)
    store.close()
    stop.set()
    thread.join()
    with sqlite3.connect(db_path) as conn:
        written = conn.execute("SELECT count(*) FROM events WHERE kind = 'race'").fetchone()[0]
    assert written == len(accepted) >= 100  # every accepted call, and only those
