"""GetLog (OCPP 2.0.1 N01): the diagnostics or security archive, uploaded to the CSMS's remoteLocation.

The answer comes at once (Accepted, or AcceptedCanceled when an upload still running is cancelled for this
one, or Rejected for a location that is no URL at all); the work runs as a task: the archive is built
(controller/diagnostics/) in a worker thread, then uploaded with HTTP PUT or POST, tried 1 + retries times,
retryInterval s apart. Every step is told in a LogStatusNotification with the requestId: Uploading, then
Uploaded, UploadFailure (attempts used up), PermissionDenied (401/403: not retried), BadMessage (400: not
retried), NotSupportedOperation (a scheme other than HTTP(S), e.g. FTP), AcceptedCanceled for the cancelled
one. TriggerMessage(LogStatusNotification) gets Uploading with the requestId while one runs, else Idle.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from controller.diagnostics.archive import DIAGNOSTICS, SECURITY, ArchiveBuilder, ArchiveSources, Window
from controller.diagnostics.upload import SCHEMES, UploadResult, target_url, upload

log = logging.getLogger(__name__)

ACTION = "LogStatusNotification"
DEFAULT_RETRIES = 2  # when the CSMS gives none: the station decides
DEFAULT_RETRY_INTERVAL_S = 30
NOT_RETRIED = {400: "BadMessage", 401: "PermissionDenied", 403: "PermissionDenied"}

Uploader = Callable[[str, bytes], UploadResult]  # blocking: run in a worker thread


class LogUploads:
    def __init__(self, notify: Callable[[str, dict], None], sources: Callable[[], ArchiveSources | None],
                 uploader: Uploader = upload, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        """`notify(action, payload)`: queue a message for the CSMS; `sources()`: what the archive holds."""
        self._notify = notify
        self._sources = sources
        self._upload = uploader
        self._sleep = sleep
        self._task: asyncio.Task | None = None
        self._request_id: int | None = None  # the upload running, for TriggerMessage

    def request(self, log_params: dict, log_type: str, request_id: int, retries: int | None,
                retry_interval: int | None) -> tuple[str, str | None, dict | None]:
        """GetLog's (status, filename, statusInfo). `log_params`: LogParametersType, snake_case keys."""
        location = log_params.get("remote_location", "")
        parts = urlsplit(location)
        sources = self._sources()
        if sources is None or log_type not in (DIAGNOSTICS, SECURITY):
            return "Rejected", None, {"reasonCode": "UnsupportedRequest"}
        if not parts.scheme or not parts.netloc:
            return "Rejected", None, {"reasonCode": "InvalidURL", "additionalInfo": location[:500]}
        try:
            window = Window(_seconds(log_params.get("oldest_timestamp")), _seconds(log_params.get("latest_timestamp")))
        except ValueError:
            return "Rejected", None, {"reasonCode": "InvalidValue", "additionalInfo": "oldest/latestTimestamp"}
        status = "Accepted"
        if self._task is not None and not self._task.done():
            self._task.cancel()  # N01.FR.12: the new request wins
            self._tell("AcceptedCanceled", self._request_id)
            status = "AcceptedCanceled"
        builder = ArchiveBuilder(sources)
        name = builder.file_name(log_type)
        self._request_id = request_id
        self._task = asyncio.get_running_loop().create_task(
            self._run(builder, log_type, window, location, name, request_id,
                      DEFAULT_RETRIES if retries is None else max(0, retries),
                      DEFAULT_RETRY_INTERVAL_S if retry_interval is None else max(0, retry_interval)),
            name="ocpp-get-log")
        return status, name, None

    def trigger(self) -> str:
        """TriggerMessage(LogStatusNotification)."""
        running = self._task is not None and not self._task.done()
        self._tell("Uploading" if running else "Idle", self._request_id if running else None)
        return "Accepted"

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, builder: ArchiveBuilder, kind: str, window: Window, location: str, name: str,
                   request_id: int, retries: int, interval_s: float) -> None:
        if urlsplit(location).scheme not in SCHEMES:  # FTP(S), SFTP: not spoken here
            self._tell("NotSupportedOperation", request_id)
            return
        self._tell("Uploading", request_id)
        try:
            blob, _ = await asyncio.to_thread(builder.build, kind, window)
        except Exception:  # e.g. the store refused the read: the CSMS learns it failed
            log.exception("OCPP GetLog %s: the archive could not be built", request_id)
            self._tell("UploadFailure", request_id)
            return
        url = target_url(location, name)
        for attempt in range(retries + 1):
            result = await asyncio.to_thread(self._upload, url, blob)
            log.info("OCPP GetLog %s: attempt %d of %d: %s", request_id, attempt + 1, retries + 1, result.detail)
            if result.ok:
                self._tell("Uploaded", request_id)
                return
            if result.status in NOT_RETRIED:
                self._tell(NOT_RETRIED[result.status], request_id)
                return
            if attempt < retries:
                await self._sleep(interval_s)
        self._tell("UploadFailure", request_id)

    def _tell(self, status: str, request_id: int | None) -> None:
        payload: dict = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        self._notify(ACTION, payload)


def _seconds(stamp: str | None) -> float | None:
    if stamp is None:
        return None
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()  # no zone: UTC
