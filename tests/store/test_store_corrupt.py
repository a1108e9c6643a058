import logging
import os
import sqlite3

import pytest

from controller.store import Store, StoreError, database_file
from tests.store.conftest import T0

pytestmark = pytest.mark.timeout(30)


def _our_header(path) -> bytes:
    """The first 100 bytes of a real store made at `path` (it carries our application id)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path)
    store.open()
    store.close()
    header = path.read_bytes()[:100]
    assert int.from_bytes(header[68:72], "big") == database_file.APPLICATION_ID
    return header


def _write_garbage(path, size=8192 + 1000):
    """A store of ours whose pages after the header are garbage; by default cut short of a whole page."""
    header = _our_header(path)
    path.write_bytes(header + bytes((n * 37 + 11) % 256 for n in range(size - len(header))))


def test_a_store_of_ours_cut_short_is_moved_aside(db_path, clock, caplog):
    _write_garbage(db_path)
    garbage = db_path.read_bytes()
    store = Store(db_path, clock=clock)
    with caplog.at_level(logging.ERROR, logger="controller.store"):
        report = store.open()
    moved = db_path.with_name("charger.db.corrupt-20231114T221320Z")
    assert report.corrupt_file_moved_to == moved
    assert moved.read_bytes() == garbage
    assert str(db_path) in caplog.text and str(moved) in caplog.text
    assert "truncated: 9192 bytes is not a whole number of 4096-byte pages" in caplog.text
    event = store.recent_events()[0]
    assert event["kind"] == "store_recovered" and event["data"]["moved_to"] == str(moved)
    store.event("boot", "works")
    store.flush()
    store.close()


def test_a_store_of_ours_with_garbage_pages_is_found_by_sqlite_and_moved_aside(db_path, clock, caplog):
    _write_garbage(db_path, size=8192)  # whole pages: the header check passes, SQLite finds the damage
    store = Store(db_path, clock=clock)
    with caplog.at_level(logging.ERROR, logger="controller.store"):
        assert store.open().corrupt_file_moved_to is not None
    assert "is corrupt" in caplog.text
    store.close()


def test_a_truncated_store_of_ours_is_corrupt(db_path, clock):
    header = _our_header(db_path)
    db_path.write_bytes(header + b"\x00" * 900)
    store = Store(db_path, clock=clock)
    assert store.open().corrupt_file_moved_to is not None
    store.close()


def test_an_empty_file_becomes_a_new_store(db_path, clock):
    db_path.parent.mkdir(parents=True)
    db_path.touch()
    store = Store(db_path, clock=clock)
    assert store.open().corrupt_file_moved_to is None
    store.close()


def test_damaged_pages_are_found_by_the_check_at_open(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    for n in range(2000):
        store.event("filler", f"event number {n} " + "x" * 100, connector=n % 4)
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db_path, "r+b") as damaged:
        damaged.seek(page_size * 20)
        damaged.write(b"\xa5" * page_size * 10)
    store = Store(db_path, clock=clock)
    report = store.open()
    assert report.corrupt_file_moved_to is not None and report.corrupt_file_moved_to.exists()
    assert [e["kind"] for e in store.recent_events()] == ["store_recovered"]
    store.close()


def test_the_wal_file_moves_with_the_database(db_path, clock):
    _write_garbage(db_path)
    wal = db_path.with_name(db_path.name + "-wal")
    wal.write_bytes(b"the write-ahead log of the damaged file")
    store = Store(db_path, clock=clock)
    moved = store.open().corrupt_file_moved_to
    store.close()
    assert moved.with_name(moved.name + "-wal").read_bytes() == b"the write-ahead log of the damaged file"


def test_a_second_corrupt_file_the_same_second_gets_its_own_name(db_path, clock):
    first = second = None
    for _ in range(2):
        _write_garbage(db_path)
        store = Store(db_path, clock=clock)
        moved = store.open().corrupt_file_moved_to
        store.close()
        first, second = second, moved
    assert first != second and first.exists() and second.exists()


def test_a_store_that_stays_corrupt_raises_instead_of_looping(db_path, clock, monkeypatch):
    def always_corrupt(path):
        raise database_file._CorruptDatabase("database disk image is malformed")

    _write_garbage(db_path)
    monkeypatch.setattr(database_file, "_open_checked", always_corrupt)
    with pytest.raises(StoreError, match="corrupt right after creation") as caught:
        Store(db_path, clock=clock).open()
    assert str(db_path) in str(caught.value)


def test_a_corrupt_file_that_cannot_be_moved_raises_with_the_reason(db_path, clock, monkeypatch):
    def refuse(source, target):
        raise PermissionError(13, "Permission denied")

    _write_garbage(db_path)
    monkeypatch.setattr(database_file.os, "replace", refuse)
    with pytest.raises(StoreError, match="moving it aside .* failed: Permission denied"):
        Store(db_path, clock=clock).open()
    assert db_path.exists()


def test_a_directory_in_the_way_is_an_error_not_a_corruption(db_path, clock):
    db_path.mkdir(parents=True)
    with pytest.raises(StoreError, match="not a regular file") as caught:
        Store(db_path, clock=clock).open()
    assert str(db_path) in str(caught.value)
    assert not list(db_path.parent.glob("*.corrupt-*"))


def test_a_folder_that_cannot_be_created_is_an_error(tmp_path, clock):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store(blocker / "charger.db", clock=clock).open()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
def test_a_file_without_permission_is_an_error(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()
    store.close()
    db_path.chmod(0o400)
    try:
        with pytest.raises(StoreError, match="no permission"):
            Store(db_path, clock=clock).open()
    finally:
        db_path.chmod(0o600)


def test_moved_aside_name_uses_the_store_clock(db_path, clock):
    clock.now = T0 + 3600
    _write_garbage(db_path)
    store = Store(db_path, clock=clock)
    report = store.open()
    store.close()
    assert report.corrupt_file_moved_to.name == "charger.db.corrupt-20231114T231320Z"
