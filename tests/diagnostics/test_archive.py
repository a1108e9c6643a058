"""The diagnostics archive: what goes in, the time window, the size bound (newest first) and the manifest."""
from __future__ import annotations

import io
import json
import logging
import os
import tarfile

import pytest

from controller.diagnostics.archive import SECURITY, ArchiveBuilder, ArchiveSources, Window
from controller.diagnostics.log_ring import RecentLog
from controller.store import Store

pytestmark = pytest.mark.timeout(30)
T0 = 1_800_000_000.0


def _members(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store.db", clock=lambda: T0 + 1000)
    s.open()
    for i in range(50):
        s.event("phase", f"event {i}", 1, {"i": i}, t=T0 + i)
    s.fault_raised("ESTOP_PRESSED", "emergency", "pressed", 1, t=T0 + 10)
    s.fault_raised("METER_LOST", "error", "silent", 2, t=T0 + 40)
    s.flush()
    yield s
    s.close()


def _sources(store=None, **kw) -> ArchiveSources:
    return ArchiveSources(station_id="ST-1", versions={"controller": "0.1.0"}, max_bytes=1 << 20, store=store,
                          clock=lambda: T0 + 1000, **kw)


def test_the_archive_holds_events_faults_log_and_a_manifest(store):
    ring = RecentLog()
    ring.handle(logging.LogRecord("controller.app", logging.WARNING, "", 0, "the log line", (), None))
    blob, manifest = ArchiveBuilder(_sources(store, recent_log=ring)).build()
    files = _members(blob)
    assert set(files) == {"manifest.json", "faults.jsonl", "events.jsonl", "controller.log"}
    events = [json.loads(line) for line in files["events.jsonl"].splitlines()]
    assert [e["message"] for e in events] == [f"event {i}" for i in range(50)]  # in time order
    assert {json.loads(line)["code"] for line in files["faults.jsonl"].splitlines()} == {"ESTOP_PRESSED", "METER_LOST"}
    assert b"the log line" in files["controller.log"]
    written = json.loads(files["manifest.json"])
    assert written == manifest and written["station_id"] == "ST-1" and written["log_type"] == "DiagnosticsLog"
    assert {m["what"] for m in written["missing"]} == {"V2G captures"}  # recording is off


def test_the_window_keeps_only_entries_inside_it(store):
    blob, _ = ArchiveBuilder(_sources(store)).build(window=Window(T0 + 20, T0 + 29))
    files = _members(blob)
    assert [json.loads(line)["message"] for line in files["events.jsonl"].splitlines()] == \
        [f"event {i}" for i in range(20, 30)]
    assert files["faults.jsonl"] == b""


def test_the_size_bound_keeps_the_newest_and_says_what_was_left_out(tmp_path):
    s = Store(tmp_path / "big.db", clock=lambda: T0 + 10_000)
    s.open()
    try:
        for i in range(3000):
            s.event("phase", f"event {i} " + os.urandom(40).hex(), 1, t=T0 + i)
        s.flush()
        blob, manifest = ArchiveBuilder(ArchiveSources("ST-1", {}, max_bytes=64 * 1024, store=s,
                                                       clock=lambda: T0)).build()
    finally:
        s.close()
    assert len(blob) <= 64 * 1024
    events = _members(blob)["events.jsonl"].splitlines()
    assert 0 < len(events) < 3000
    assert json.loads(events[-1])["message"].startswith("event 2999 ")  # the newest is in, the oldest out
    part = next(p for p in manifest["included"] if p["name"] == "events.jsonl")
    assert part["truncated"].startswith("size bound") and part["entries"] == len(events)


def test_captures_newest_first_when_recording_is_on(tmp_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    for i in range(3):
        f = folder / f"session-{i}.pcap"
        f.write_bytes(os.urandom(20_000))
        os.utime(f, (T0 + i, T0 + i))
    (folder / "notes.txt").write_text("not a capture")
    blob, manifest = ArchiveBuilder(ArchiveSources("ST-1", {}, max_bytes=70 * 1024, capture_dir=str(folder),
                                                   clock=lambda: T0)).build()
    files = _members(blob)
    assert len(blob) <= 70 * 1024
    assert "captures/session-2.pcap" in files and "captures/session-1.pcap" in files
    assert "captures/session-0.pcap" not in files
    assert any(m["why"].startswith("size bound") for m in manifest["missing"])
    assert any(m["what"] == "event log" for m in manifest["missing"])  # no store


def test_a_log_file_is_included_from_its_tail(tmp_path):
    log_file = tmp_path / "controller.log"
    log_file.write_text("".join(f"line {i}\n" for i in range(100)))
    files = _members(ArchiveBuilder(_sources(log_file=str(log_file))).build()[0])
    assert files["controller-file.log"].splitlines()[-1] == b"line 99"
    _, manifest = ArchiveBuilder(_sources(log_file=str(tmp_path / "nope.log"))).build()
    assert any("nope.log" in m["what"] for m in manifest["missing"])


def test_security_log_holds_only_the_security_events(store):
    entries = [{"kind": "StartupOfTheDevice", "t": T0 + 1, "tech_info": "", "critical": True}]
    blob, manifest = ArchiveBuilder(_sources(store, security_log=lambda: entries)).build(SECURITY)
    files = _members(blob)
    assert set(files) == {"manifest.json", "security.jsonl"}
    assert json.loads(files["security.jsonl"])["kind"] == "StartupOfTheDevice"
    _, without = ArchiveBuilder(_sources(store)).build(SECURITY)
    assert without["missing"][0]["what"] == "security log"


def test_the_file_name_names_station_kind_and_time():
    assert ArchiveBuilder(_sources()).file_name() == "ST-1-diagnostics-20270115T081640Z.tar.gz"


def test_everything_at_once_stays_within_the_smallest_bound(tmp_path, store):
    folder = tmp_path / "captures"
    folder.mkdir()
    for i in range(60):  # more than one archive takes, each small
        (folder / f"c{i:02d}.pcap").write_bytes(os.urandom(300))
    log_file = tmp_path / "big.log"
    log_file.write_bytes(os.urandom(200_000).hex().encode())
    small = ArchiveSources("ST-1", {}, max_bytes=64 * 1024, store=store, capture_dir=str(folder),
                           log_file=str(log_file), clock=lambda: T0)
    blob, manifest = ArchiveBuilder(small).build()
    assert len(blob) <= 64 * 1024
    assert 0 < sum(name.startswith("captures/") for name in _members(blob)) <= 40


def test_the_bound_is_checked_in_the_config():
    from controller.formats.cabinet.config import ConfigError, load_config
    from hil.setup import cabinet_path
    with pytest.raises(ConfigError, match="max_archive_kb"):
        load_config(cabinet_path("desk"), ("diagnostics.max_archive_kb=8",))
    assert load_config(cabinet_path("desk")).diagnostics.max_archive_kb == 4096


def test_the_journal_is_the_controller_log_when_a_unit_is_named(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "journalctl"  # a stand-in that shows the arguments it was given
    fake.write_text('#!/bin/sh\necho "old line"\necho "args: $*"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    blob, _ = ArchiveBuilder(_sources(journal_unit="charger-controller")).build(window=Window(T0, T0 + 60))
    journal = _members(blob)["journal.log"].decode()
    assert "--unit charger-controller" in journal and f"--since @{int(T0)}" in journal
    assert f"--until @{int(T0) + 61}" in journal
    fake.write_text("#!/bin/sh\necho 'No journal files were found.' >&2\nexit 1\n")
    ring = RecentLog()
    ring.handle(logging.LogRecord("controller.app", logging.WARNING, "", 0, "kept in memory", (), None))
    blob, manifest = ArchiveBuilder(_sources(journal_unit="charger-controller", recent_log=ring)).build()
    assert b"kept in memory" in _members(blob)["controller.log"]  # the memory's lines instead
    assert any(m["why"].startswith("journalctl exit 1: No journal files") for m in manifest["missing"])


def test_events_beyond_the_rows_read_count_as_left_out(store, monkeypatch):
    import controller.diagnostics.archive as archive
    monkeypatch.setattr(archive, "BYTES_PER_EVENT", 100_000)  # so only a few rows are read for 1 MB
    _, manifest = ArchiveBuilder(_sources(store)).build()
    part = next(p for p in manifest["included"] if p["name"] == "events.jsonl")
    assert part["entries"] < 50 and part["truncated"].startswith("size bound")
