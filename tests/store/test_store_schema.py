import sqlite3
import time

import pytest

from controller.store import Store, StoreError, schema
from controller.store.database_file import connect

pytestmark = pytest.mark.timeout(30)


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_open_creates_every_table_and_the_version(store, db_path):
    assert {"schema_version", "runtime", "ports", "events", "faults", "sessions", "outages"} <= _tables(db_path)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(schema.SCHEMA_VERSION,)]
        commissioned = conn.execute("SELECT value FROM runtime WHERE key = 'commissioned_t'").fetchone()
    assert commissioned is not None


def test_first_open_reports_no_downtime(db_path, clock):
    store = Store(db_path, clock=clock)
    report = store.open()
    store.close()
    assert report.interrupted_sessions == [] and report.downtime_s is None
    assert report.corrupt_file_moved_to is None


def test_file_is_in_wal_mode(store, db_path):
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_connections_start_with_synchronous_full(db_path, store):
    conn = connect(db_path)
    try:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        conn.close()


def _wait_for_commits(store, count: int) -> None:
    deadline = time.monotonic() + 5.0
    while sum(store.writer_stats.commits.values()) < count:
        assert time.monotonic() < deadline, "the writer did not commit"
        time.sleep(0.001)


def test_events_alone_commit_with_synchronous_normal(store):
    store.event("boot", "controller started")
    _wait_for_commits(store, 1)  # no flush: the batch holds only the event
    assert store.writer_stats.commits == {"NORMAL": 1}
    store.flush()  # nothing new to write, so a small FULL commit syncs the WAL
    assert store.writer_stats.commits == {"NORMAL": 1, "FULL": 1}
    store.flush()  # already durable: no further commit
    assert store.writer_stats.commits == {"NORMAL": 1, "FULL": 1}


@pytest.mark.parametrize("write", [
    lambda s: s.session_started(1),
    lambda s: s.fault_raised("ESTOP_PRESSED", "emergency", "pressed", None),
    lambda s: s.outage_started(1, "fault"),
    lambda s: s.heartbeat(),
])
def test_sessions_faults_outages_and_heartbeats_commit_full(store, write):
    write(store)
    _wait_for_commits(store, 1)
    assert store.writer_stats.commits == {"FULL": 1}


def test_the_read_connection_cannot_write(store):
    with pytest.raises(sqlite3.OperationalError):
        store._read(lambda conn: conn.execute("DELETE FROM events"))


def test_migration_hook_upgrades_an_older_file(db_path, clock, monkeypatch):
    first = Store(db_path, clock=clock)
    first.open()  # leaves a file of today's version
    first.close()
    current = schema.SCHEMA_VERSION

    def add_payment_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE sessions ADD COLUMN payment TEXT")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, add_payment_column)
    store = Store(db_path, clock=clock)
    store.open()
    store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == current + 1
        columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
    assert "payment" in columns


def test_a_version_1_file_gains_the_ocpp_queue(db_path, clock, monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 1)
    first = Store(db_path, clock=clock)
    first.open()  # a file written before OCPP
    first.close()
    assert "ocpp_queue" not in _tables(db_path)
    monkeypatch.undo()
    store = Store(db_path, clock=clock)
    store.open()
    store.close()
    assert "ocpp_queue" in _tables(db_path)


def test_a_file_from_newer_software_is_refused_and_left_in_place(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match=r"schema version 99 is newer") as caught:
        Store(db_path, clock=clock).open()
    assert str(db_path) in str(caught.value)
    assert db_path.exists() and not list(db_path.parent.glob("*.corrupt-*"))


def test_another_sqlite_database_is_refused_untouched(db_path, clock):
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(StoreError, match="not a charger store"):
        Store(db_path, clock=clock).open()
    assert _tables(db_path) == {"photos"}


def test_every_store_connection_has_a_bounded_page_cache(store, db_path):
    """Issue 19 (soak): SQLite's default 2 MB cache per connection filled up as the file grew; the store keeps
    its connections' cache small so the controller's memory stays flat."""
    from controller.store.database_file import CACHE_KIB, connect

    for read_only in (False, True):
        conn = connect(db_path, read_only=read_only)
        try:
            assert conn.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
        finally:
            conn.close()
    assert CACHE_KIB <= 512
