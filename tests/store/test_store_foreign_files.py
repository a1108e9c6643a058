"""The store never touches a file that is not its own: refused with one clear reason, left byte for byte."""
from __future__ import annotations

import os
import sqlite3

import pytest

from controller.store import Store, StoreError
from controller.store.database_file import APPLICATION_ID, identify

pytestmark = pytest.mark.timeout(30)

CABINET_TOML = b'name = "desk"\n\n[can.power]\ninterface = "socketcan"\nchannel = "can0"\n' * 40


def _snapshot(folder) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _sqlite_file(path, application_id: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.execute("CREATE TABLE photos (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO photos VALUES (1, 'holiday')")
    conn.commit()
    conn.close()


def _write(path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.mark.parametrize("make,reason", [
    (lambda p: _write(p, CABINET_TOML), "not a charger store (no SQLite header)"),
    (lambda p: _write(p, bytes(range(256)) * 40), "not a charger store (no SQLite header)"),
    (lambda p: _write(p, b"SQLite format 3\x00\x10\x00"), "not a charger store (no SQLite header)"),
    (lambda p: _sqlite_file(p), "an SQLite database but not a charger store (tables: photos)"),
    (lambda p: _sqlite_file(p, 0x0F055112), "another program (application id 0x0f055112)"),
], ids=["cabinet-toml", "binary", "header-fragment", "other-sqlite", "other-application-id"])
def test_a_file_that_is_not_ours_is_refused_and_left_untouched(db_path, clock, make, reason):
    make(db_path)
    before = _snapshot(db_path.parent)
    with pytest.raises(StoreError) as caught:
        Store(db_path, clock=clock).open()
    assert reason in str(caught.value) and str(db_path) in str(caught.value)
    assert "refusing to touch it" in str(caught.value)
    assert _snapshot(db_path.parent) == before  # not renamed, not rewritten, no -wal, -shm or .lock beside it


def test_a_system_file_is_refused(tmp_path, clock):
    passwd = tmp_path / "passwd"
    passwd.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(StoreError, match="not a charger store"):
        Store(passwd, clock=clock).open()
    assert passwd.read_bytes() == b"root:x:0:0:root:/root:/bin/bash\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]


def test_a_new_store_carries_our_mark_in_the_main_file_while_open(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    try:
        # Read while open (WAL not yet checkpointed): a crash now must still leave a file we recognise.
        header = db_path.read_bytes()[:100]
        assert int.from_bytes(header[68:72], "big") == APPLICATION_ID
        assert identify(db_path) == "ours"
    finally:
        store.close()


def test_a_store_from_before_the_mark_is_recognised_and_marked(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    store.event("boot", "kept")
    store.close()
    conn = sqlite3.connect(db_path)  # as a store written before the application id existed
    conn.execute("PRAGMA application_id = 0")
    conn.close()  # checkpoints the WAL into the main file
    assert identify(db_path) == "legacy"
    store = Store(db_path, clock=clock)
    store.open()
    assert "kept" in [e["message"] for e in store.recent_events()]
    store.close()
    assert identify(db_path) == "ours"


def test_an_sqlite_file_without_tables_is_adopted(db_path, clock):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 0")
    conn.execute("VACUUM")  # writes the header page: a valid, empty database
    conn.close()
    assert os.path.getsize(db_path) > 0 and identify(db_path) == "new"
    store = Store(db_path, clock=clock)
    store.open()
    store.close()
    assert identify(db_path) == "ours"


def test_an_unmarked_file_whose_tables_may_sit_in_its_log_is_refused(db_path, clock):
    db_path.parent.mkdir(parents=True)
    writer = sqlite3.connect(db_path)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE photos (id INTEGER)")
    writer.commit()  # the table is in the -wal file only
    before = _snapshot(db_path.parent)
    try:
        with pytest.raises(StoreError, match="pending write-ahead log"):
            Store(db_path, clock=clock).open()
        assert _snapshot(db_path.parent) == before
    finally:
        writer.close()
