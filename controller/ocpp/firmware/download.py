"""Fetching the firmware bundle over HTTP(S), resumable: what arrived stays in a partial file and the next attempt
asks only for the rest (Range). urllib blocks, so each attempt runs in a worker thread; the event loop, which
drives the connectors, never waits on the network. A cancelled download stops at its next piece.
"""
from __future__ import annotations

import asyncio
import http.client
import logging
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
READ_TIMEOUT_S = 30.0  # a server silent this long fails the attempt (the next one resumes)


class DownloadFailed(Exception):
    """One attempt failed; str(self) says why."""


def _range_total(content_range: str | None) -> int | None:
    """The whole size from a Content-Range header ("bytes 0-9/100" or "bytes */100")."""
    match = re.search(r"/(\d+)\s*$", content_range or "")
    return int(match.group(1)) if match else None


def fetch(url: str, part: Path, max_bytes: int, stop: threading.Event) -> None:
    """One attempt: `part` holds the whole file when it returns; DownloadFailed otherwise (kept for a resume)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=READ_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have and _range_total(exc.headers.get("Content-Range")) == have:
            return  # the earlier attempt had it all
        if exc.code == 416:
            part.unlink(missing_ok=True)  # ours is longer than theirs: start again
        raise DownloadFailed(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise DownloadFailed(str(getattr(exc, "reason", exc))) from None
    with response:
        if response.status == 206 and have:
            start = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
            if not start or int(start.group(1)) != have:
                part.unlink(missing_ok=True)
                raise DownloadFailed("the server resumed at another place")
            mode, total = "ab", _range_total(response.headers.get("Content-Range"))
        else:  # 200: the whole file (a server without Range support starts again)
            mode, have = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise DownloadFailed(f"the firmware is {total} bytes, more than the {max_bytes} allowed")
        try:
            with part.open(mode) as out:
                while piece := response.read(CHUNK):
                    if stop.is_set():
                        raise DownloadFailed("cancelled")
                    have += len(piece)
                    if have > max_bytes:
                        raise DownloadFailed(f"the firmware grew past the {max_bytes} bytes allowed")
                    out.write(piece)
        except (OSError, http.client.HTTPException) as exc:  # the connection dropped, or the disk is full
            raise DownloadFailed(str(exc)) from None
    if total is not None and have != total:
        raise DownloadFailed(f"the transfer ended after {have} of {total} bytes")


async def download(url: str, part: Path, *, attempts: int, retry_interval_s: float, max_bytes: int,
                   on_retry: Callable[[int, str], None] = lambda attempt, why: None) -> str | None:
    """Up to `attempts` attempts, `retry_interval_s` apart; None when `part` is whole, else the last failure."""
    why = "no attempt"
    for attempt in range(1, attempts + 1):
        stop = threading.Event()
        try:
            await asyncio.to_thread(fetch, url, part, max_bytes, stop)
            return None
        except DownloadFailed as exc:
            why = str(exc)
        finally:
            stop.set()  # a cancelled task leaves its thread running: it stops at its next piece
        log.warning("OCPP: firmware download attempt %d of %d failed: %s", attempt, attempts, why)
        if attempt < attempts:
            on_retry(attempt, why)
            await asyncio.sleep(retry_interval_s)
    return why
