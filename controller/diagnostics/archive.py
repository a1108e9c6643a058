"""Builds the diagnostics archive: one tar.gz with a manifest, the event log, the fault history, the
controller's own log (the systemd journal, a log file or the lines kept in memory) and recent V2G captures
(DiagnosticsLog), or the security log alone (SecurityLog).

The archive never grows past its bound ([diagnostics] max_archive_kb): each part is filled newest first
and what no longer fits is left out, which the manifest says, with everything else that is missing and why.
The bound counts the contents before compression, so the archive itself is usually much smaller (event
lines compress about 15 to 1). Entries are kept only inside the asked time window (GetLog's oldestTimestamp /
latestTimestamp). Blocking (store reads, files): run it in a worker thread.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from controller.diagnostics.journal import journal_tail
from controller.diagnostics.log_ring import RecentLog

DIAGNOSTICS, SECURITY = "DiagnosticsLog", "SecurityLog"
FORMAT = 1
CAPTURE_SUFFIXES = (".pcap", ".pcapng")
MANIFEST_RESERVE = 8192  # bytes kept free for the manifest itself
TAR_FILE_OVERHEAD = 1024  # a tar header (512) and at most 511 bytes of padding
MAX_CAPTURES = 40  # captures in one archive (each is a line in the manifest)
BYTES_PER_EVENT = 80  # a short event line: bounds how many rows are read (under the store's read lock)


@dataclass(frozen=True)
class Window:
    oldest: float | None = None
    latest: float | None = None

    def holds(self, t: float | None) -> bool:
        if t is None:
            return True
        return (self.oldest is None or t >= self.oldest) and (self.latest is None or t <= self.latest)


@dataclass
class ArchiveSources:
    """Where each part comes from; None / empty where this station has none (the manifest says so)."""
    station_id: str
    versions: dict[str, str]
    max_bytes: int
    store: Any = None  # recent_events(limit) and fault_history(limit), newest first (controller/store)
    memory_faults: Callable[[], list[dict]] = lambda: []  # without a store: the faults since the start
    recent_log: RecentLog | None = None
    log_file: str = ""
    journal_unit: str = ""  # the systemd unit whose journal is the controller's log
    capture_dir: str = ""
    security_log: Callable[[], list[dict]] | None = None  # OCPP's security events; None: no OCPP here
    clock: Callable[[], float] = time.time


@dataclass
class _Part:
    name: str
    data: bytes
    entries: int
    truncated: bool = False
    mtime: float = field(default_factory=time.time)


class ArchiveBuilder:
    def __init__(self, sources: ArchiveSources) -> None:
        self.sources = sources

    def file_name(self, kind: str = DIAGNOSTICS) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.sources.clock()))
        label = "security" if kind == SECURITY else "diagnostics"
        return f"{_safe(self.sources.station_id)}-{label}-{stamp}.tar.gz"

    def build(self, kind: str = DIAGNOSTICS, window: Window = Window()) -> tuple[bytes, dict]:
        """(the tar.gz, its manifest)."""
        src = self.sources
        # what tar headers and padding (up to 1 kB a file), the end blocks and gzip add on top of the contents
        # (gzip grows random data by well under 1 %); each capture pays its own header below
        budget = src.max_bytes - MANIFEST_RESERVE - TAR_FILE_OVERHEAD * 5 - src.max_bytes // 50
        missing: list[dict] = []
        parts: list[_Part] = []
        readers = ((self._security,) if kind == SECURITY else
                   (self._faults, self._events, self._controller_log, self._captures))
        for read in readers:
            for part in read(window, budget, missing):
                parts.append(part)
                budget -= len(part.data)
        manifest = {"format": FORMAT, "station_id": src.station_id, "log_type": kind,
                    "created": _iso(src.clock()), "versions": src.versions,
                    "window": {"oldest": _iso(window.oldest), "latest": _iso(window.latest)},
                    "max_bytes": src.max_bytes, "order": "each part keeps its newest entries; files in time order",
                    "included": [{"name": p.name, "entries": p.entries, "bytes": len(p.data),
                                  **({"truncated": "size bound: older entries left out"} if p.truncated else {})}
                                 for p in parts],
                    "missing": missing}
        return _pack([_Part("manifest.json", json.dumps(manifest, indent=1).encode(), 1), *parts]), manifest

    # ---- the parts, each newest first within what is left of the budget ----------------------------------
    def _faults(self, window: Window, budget: int, missing: list[dict]) -> Iterable[_Part]:
        store = self.sources.store
        rows = store.fault_history(10_000) if store is not None else sorted(
            self.sources.memory_faults(), key=lambda r: r["raised_t"], reverse=True)
        if store is None:
            missing.append({"what": "fault history before this start", "why": "no store configured"})
        yield _lines_part("faults.jsonl", [(r["raised_t"], _json(r)) for r in rows if window.holds(r["raised_t"])],
                          budget // 4)

    def _events(self, window: Window, budget: int, missing: list[dict]) -> Iterable[_Part]:
        store = self.sources.store
        if store is None:
            missing.append({"what": "event log", "why": "no store configured ([store] path)"})
            return
        limit = min(200_000, max(1, budget // BYTES_PER_EVENT))
        rows = store.recent_events(limit)
        yield _lines_part("events.jsonl", [(r["t"], _json(r)) for r in rows if window.holds(r["t"])], budget * 2 // 3,
                          more=len(rows) == limit and window.holds(rows[-1]["t"]))  # older ones not even read

    def _controller_log(self, window: Window, budget: int, missing: list[dict]) -> Iterable[_Part]:
        src = self.sources
        if src.journal_unit:
            lines, why = journal_tail(src.journal_unit, window.oldest, window.latest, budget // 2)
            if why is None:
                yield _Part("journal.log", lines, lines.count(b"\n"))
                return  # the journal has every line the memory has, and those of earlier runs
            missing.append({"what": f"journal of {src.journal_unit}", "why": why})
        if src.log_file:
            try:
                with open(src.log_file, "rb") as f:
                    f.seek(0, os.SEEK_END)
                    size = f.tell()
                    f.seek(max(0, size - budget // 2))
                    tail = f.read()
            except OSError as exc:
                missing.append({"what": f"log file {src.log_file}", "why": exc.strerror or str(exc)})
            else:
                if size > len(tail):  # cut at a line start
                    tail = tail[tail.find(b"\n") + 1:]
                yield _Part("controller-file.log", tail, tail.count(b"\n"), truncated=size > len(tail))
                return  # the file has what the memory has
        if src.recent_log is None:
            missing.append({"what": "controller log", "why": "no log file configured and no log kept in memory"})
            return
        lines = [(t, line.encode() + b"\n") for t, line in reversed(src.recent_log.lines()) if window.holds(t)]
        yield _lines_part("controller.log", lines, budget // 2)

    def _captures(self, window: Window, budget: int, missing: list[dict]) -> Iterable[_Part]:
        folder = self.sources.capture_dir
        if not folder:
            missing.append({"what": "V2G captures", "why": "recording is off ([diagnostics] capture_dir empty)"})
            return
        try:
            found = [(entry.stat().st_mtime, entry) for entry in os.scandir(folder)
                     if entry.is_file() and entry.name.endswith(CAPTURE_SUFFIXES)]
        except OSError as exc:
            missing.append({"what": f"V2G captures in {folder}", "why": exc.strerror or str(exc)})
            return
        left_out = taken = 0
        for mtime, entry in sorted(found, key=lambda pair: pair[0], reverse=True):
            if not window.holds(mtime):
                continue
            size = entry.stat().st_size + TAR_FILE_OVERHEAD
            if size > budget or taken >= MAX_CAPTURES:
                left_out += 1
                continue
            try:
                data = Path(entry.path).read_bytes()[:budget - TAR_FILE_OVERHEAD]  # it may have grown meanwhile
            except OSError:
                left_out += 1
                continue
            budget -= len(data) + TAR_FILE_OVERHEAD
            taken += 1
            yield _Part(f"captures/{entry.name}", data, 1, mtime=mtime)
        if left_out:
            missing.append({"what": f"{left_out} older V2G capture(s)",
                            "why": f"size bound (at most {MAX_CAPTURES} captures, newest first)"})

    def _security(self, window: Window, budget: int, missing: list[dict]) -> Iterable[_Part]:
        if self.sources.security_log is None:
            missing.append({"what": "security log", "why": "OCPP is not configured: no security events are kept"})
            return
        rows = list(reversed(self.sources.security_log()))  # newest first
        missing.append({"what": "security events before this start", "why": "the security log is kept in memory"})
        yield _lines_part("security.jsonl", [(r["t"], _json(r)) for r in rows if window.holds(r["t"])], budget)


def _lines_part(name: str, newest_first: list[tuple[float, bytes]], budget: int, more: bool = False) -> _Part:
    """As many of the newest lines as fit in `budget`, written oldest first; `more`: older ones were not read."""
    kept: list[bytes] = []
    used = 0
    for _, line in newest_first:
        if used + len(line) > budget:
            break
        kept.append(line)
        used += len(line)
    return _Part(name, b"".join(reversed(kept)), len(kept), truncated=more or len(kept) < len(newest_first))


def _pack(parts: list[_Part]) -> bytes:
    raw = io.BytesIO()
    # mtime 0 in the gzip header: the same contents give the same bytes
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for part in parts:
            info = tarfile.TarInfo(part.name)
            info.size, info.mtime, info.mode = len(part.data), int(part.mtime), 0o644
            tar.addfile(info, io.BytesIO(part.data))
    return raw.getvalue()


def _json(row: dict) -> bytes:
    t = row.get("t", row.get("raised_t"))
    return json.dumps({**({"time": _iso(t)} if isinstance(t, (int, float)) else {}), **row},
                      default=str, separators=(",", ":")).encode() + b"\n"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:48] or "station"
