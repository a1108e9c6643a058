"""UpdateFirmware (OCPP 2.0.1 L01, secure firmware update): download, check the signature, install when no
transaction runs, restart, and confirm the new version at the next start.

Every step is told to the CSMS by a FirmwareStatusNotification carrying the request's requestId, queued like the
TransactionEvents (on disk before it is sent, sent in order once a link is up). The job is kept in the store
(controller/store/ocpp_firmware.py): a download cut by a restart resumes, and after the installer's restart the
next start knows an update was under way. While the installation waits for transactions to end, the EVSEs not
in use are taken out of service (set_enabled), so that a busy station cannot put the update off for ever; they
come back when the update fails or is cancelled (a successful one restarts the controller).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Protocol

from controller.formats.cabinet.ocpp_firmware import FirmwareConfig
from controller.ocpp.firmware.download import download
from controller.ocpp.firmware.installer import run_installer
from controller.ocpp.firmware.request import FirmwareRequest, RequestRefused, parse_request
from controller.ocpp.reset import POWERED_STATES, SEND_WAIT_S
from controller.store.ocpp_firmware import FirmwareStore

log = logging.getLogger(__name__)

ACTION = "FirmwareStatusNotification"
MANUFACTURER_ROOT = "ManufacturerRootCertificate"
HOLDABLE_STATES = ("available", "plugged", "session_end")  # no transaction: the connector may be taken out
POLL_S = 0.5  # how often a waiting installation looks at the transactions again
FIRMWARE_REBOOT = "FirmwareUpdate"  # the BootNotification reason after the installer's restart


class FirmwareStation(Protocol):
    """What the update needs of the OCPP service."""
    connectors: dict[int, Any]
    transactions: dict[int, Any]
    accepted: bool
    queue: Any
    security_events: Any
    security: Any

    def unsent(self) -> int: ...
    def operative(self, evse_id: int) -> bool: ...


def _info(reason: str, detail: str) -> dict:
    return {"reason_code": reason[:20], "additional_info": detail[:512]}


class FirmwareUpdates:
    def __init__(self, cfg: FirmwareConfig, store: FirmwareStore | None, station: FirmwareStation,
                 clock: Callable[[], float], wake: Callable[[], None], restart: Callable[[], None] | None,
                 default_version: str):
        self.cfg = cfg
        self._store = store if store is not None else FirmwareStore()
        self._station = station
        self._clock = clock
        self._wake = wake
        self._restart = restart
        self._default_version = default_version
        self.folder = Path(cfg.download_dir) if cfg.download_dir else (
            self._store.path.parent / "firmware" if self._store.path else Path(tempfile.gettempdir()) / "ocpp-firmware")
        self._job: dict | None = None  # {"request": ..., "phase": ...}: the update under way
        self._task: asyncio.Task | None = None
        self._held: set[int] = set()  # connectors this update took out of service
        self.last_status = "Idle"
        self.boot_reason: str | None = None  # FirmwareUpdate when this start follows the installer's restart
        self._confirm_after_restart()

    # ---- versions and the start after an installation --------------------------------------------------
    def running_version(self) -> str:
        """The version_file's first line, else the version the app gave."""
        if not self.cfg.version_file:
            return self._default_version
        try:
            line = Path(self.cfg.version_file).read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("OCPP: firmware version file %s unreadable (%s)", self.cfg.version_file, exc)
            return self._default_version
        return line[0][:50] if line and line[0] else self._default_version

    def _confirm_after_restart(self) -> None:
        job = self._store.load()
        if job is None:
            return
        try:
            request = FirmwareRequest.from_json(job["request"])
        except (KeyError, TypeError):
            log.warning("OCPP: a stored firmware update could not be read; forgotten")
            self._store.clear()
            return
        if job.get("phase") not in ("installing", "rebooting"):
            self._job = job  # run() resumes it
            return
        self.boot_reason = FIRMWARE_REBOOT
        running, expected = self.running_version(), job.get("expected_version")
        installed = running == expected if expected else running != job.get("version_before")
        if installed:
            self._status("Installed", request.request_id)
            self._station.security_events.note("FirmwareUpdated", f"version {running}")
        else:  # the update system went back to the old slot (or the installer was cut short)
            self._status("InstallVerificationFailed" if job["phase"] == "rebooting" else "InstallationFailed",
                         request.request_id)
            log.warning("OCPP: firmware update %d: version %s runs, not the new one", request.request_id, running)
        self._store.clear()
        self._bundle(job).unlink(missing_ok=True)
        self.last_status = "Idle"

    # ---- the CSMS's requests ------------------------------------------------------------------------------
    def update(self, request_id: int, firmware: dict, retries: int | None,
               retry_interval: int | None) -> tuple[str, dict | None]:
        """UpdateFirmware's answer: (status, statusInfo)."""
        # cryptography (about 8 MB of RSS) is loaded by the first update, not at start (tests/ocpp/test_lazy_crypto.py)
        from controller.ocpp.firmware.signing import SigningCertificateRefused, check_signing_certificate
        if not self.cfg.install_command or self._restart is None:
            return "Rejected", _info("NoInstaller", "this station has no firmware installer configured")
        if self._job is not None and self._job["phase"] in ("installing", "rebooting"):
            return "Rejected", _info("InstallInProgress", "an installation is under way")
        try:
            request = parse_request(request_id, firmware, retries, retry_interval, self._clock())
            check_signing_certificate(request.signing_certificate,
                                      self._station.security.certificates.roots(MANUFACTURER_ROOT))
        except RequestRefused as exc:
            return "Rejected", _info("InvalidValue", str(exc))
        except SigningCertificateRefused as exc:
            self._station.security_events.note("InvalidFirmwareSigningCertificate", str(exc))
            return "InvalidCertificate", _info("InvalidCertificate", str(exc))
        status = "Accepted"
        if self._task is not None and not self._task.done():
            self._task.cancel()  # a second request cancels the first (its file goes when the next download starts)
            self._release()
            status = "AcceptedCanceled"
            log.info("OCPP: firmware update %d cancelled by update %d", self._job["request"]["request_id"], request_id)
        self._job = {"request": request.to_json(), "phase": "download",
                     "bundle": f"firmware-{request_id}-{secrets.token_hex(4)}.bundle"}
        self._store.save(self._job)
        self._start()
        return status, None

    def trigger(self) -> str:
        """TriggerMessage FirmwareStatusNotification: the update's last status, Idle when none runs."""
        if self._job is None:
            self._status("Idle", None)
        else:
            self._status(self.last_status, self._job["request"]["request_id"])
        return "Accepted"

    # ---- the update's steps -------------------------------------------------------------------------------
    async def run(self) -> None:
        """The service's task: resumes a stored update, and ends a running one when the service closes."""
        try:
            if self._job is not None and self._task is None:
                self._start()
            await asyncio.Event().wait()
        finally:
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._carry_out(self._job), name="ocpp-firmware")

    def _bundle(self, job: dict) -> Path:
        """The job's own file: a cancelled job's download thread, still writing its last piece, never touches
        the next job's file, even one with the same requestId."""
        return self.folder / job.get("bundle", f"firmware-{job['request']['request_id']}.bundle")

    async def _carry_out(self, job: dict) -> None:
        request = FirmwareRequest.from_json(job["request"])
        bundle = self._bundle(job)
        try:
            fetched = job["phase"] != "download" or await self._fetch(request, bundle)
            if not fetched or not await self._verify(request, bundle):  # again after a restart: the file on disk
                self._done(job, bundle)
                return
            job["phase"] = "install_wait"
            self._store.save(job)
            await self._wait_until_idle(request)
            job.update(phase="installing", version_before=self.running_version())
            self._store.save(job)
            self._status("Installing", request.request_id)
            outcome = await run_installer(self.cfg.install_command, bundle, self.cfg.install_timeout_s)
            if outcome.status != "InstallRebooting":
                log.warning("OCPP: firmware update %d: %s", request.request_id, outcome.detail)
                self._status(outcome.status, request.request_id)
                self._done(job, bundle)
                return
            job.update(phase="rebooting", expected_version=outcome.version)
            self._store.save(job)
            self._status("InstallRebooting", request.request_id)
            await self._restart_when_told()
        except asyncio.CancelledError:
            self._release()
            raise
        except Exception:  # a bug or the disk: the update ends, the station goes on
            log.exception("OCPP: firmware update %d failed", request.request_id)
            self._status("InstallationFailed" if job["phase"] == "installing" else "DownloadFailed",
                         request.request_id)
            self._done(job, bundle)

    async def _fetch(self, request: FirmwareRequest, bundle: Path) -> bool:
        wait = request.retrieve_at - self._clock()
        if wait > 0:
            self._status("DownloadScheduled", request.request_id)
            await asyncio.sleep(wait)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("firmware-*.bundle"):  # a cancelled update's
            if stale != bundle:
                stale.unlink(missing_ok=True)
        self._status("Downloading", request.request_id)
        failure = await download(request.location, bundle, attempts=request.attempts,
                                 retry_interval_s=request.retry_interval_s,
                                 max_bytes=self.cfg.max_download_mb * 1024 * 1024)
        if failure is not None:
            self._status("DownloadFailed", request.request_id)
            return False
        self._status("Downloaded", request.request_id)
        return True

    async def _verify(self, request: FirmwareRequest, bundle: Path) -> bool:
        from controller.ocpp.firmware.signing import (SigningCertificateRefused, check_signing_certificate,
                                                      file_digest, signature_matches)
        try:
            digest = await asyncio.to_thread(file_digest, bundle)
        except OSError as exc:  # gone since (a technician, a disk replaced during the restart)
            log.warning("OCPP: firmware bundle %s unreadable: %s", bundle, exc)
            self._status("InstallationFailed", request.request_id)
            return False
        try:  # checked again: the roots may have changed since the request (or before a restart)
            cert = check_signing_certificate(request.signing_certificate,
                                             self._station.security.certificates.roots(MANUFACTURER_ROOT))
        except SigningCertificateRefused as exc:
            self._station.security_events.note("InvalidFirmwareSigningCertificate", str(exc))
            self._status("InvalidSignature", request.request_id)
            return False
        if not signature_matches(cert, request.signature, digest):
            self._station.security_events.note("InvalidFirmwareSignature",
                                               f"requestId {request.request_id}, {request.location[:120]}")
            self._status("InvalidSignature", request.request_id)
            return False
        self._status("SignatureVerified", request.request_id)
        return True

    async def _wait_until_idle(self, request: FirmwareRequest) -> None:
        """Until installDateTime and until no transaction runs and no connector is powered; meanwhile the
        connectors not in use are taken out of service."""
        told = False
        while True:
            early = request.install_at is not None and request.install_at > self._clock()
            busy = self._busy()
            if not early and not busy:
                self._hold_idle()  # no await between this check and the installer's start
                return
            if not told:
                self._status("InstallScheduled", request.request_id)
                told = True
            if busy and not early:
                self._hold_idle()
            await asyncio.sleep(POLL_S)

    def _busy(self) -> bool:
        station = self._station
        return bool(station.transactions) or any(c.state in POWERED_STATES for c in station.connectors.values())

    def _hold_idle(self) -> None:
        for cid, connector in self._station.connectors.items():
            if cid in self._station.transactions or cid in self._held:
                continue
            if connector.enabled and connector.state in HOLDABLE_STATES:
                self._held.add(cid)
                log.info("OCPP: connector %d out of service for the firmware installation", cid)
                connector.set_enabled(False)

    def _release(self) -> None:
        for cid in sorted(self._held):
            connector = self._station.connectors[cid]
            if not connector.enabled and self._station.operative(cid):
                connector.set_enabled(True)
        self._held.clear()

    async def _restart_when_told(self) -> None:
        deadline = time.monotonic() + SEND_WAIT_S  # InstallRebooting reaches the CSMS first while a link is up
        while time.monotonic() < deadline and self._station.accepted and self._station.unsent():
            await asyncio.sleep(0.05)
        log.warning("OCPP: firmware installed; the controller restarts")
        self._restart()

    def _done(self, job: dict, bundle: Path) -> None:
        self._release()
        bundle.unlink(missing_ok=True)
        self._store.clear()
        if self._job is job:
            self._job, self.last_status = None, "Idle"

    def _status(self, status: str, request_id: int | None) -> None:
        self.last_status = status
        payload: dict = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        try:
            self._station.queue.append(ACTION, payload, self._clock())
        except Exception:  # e.g. the store's disk is full: the log has it
            log.exception("OCPP: FirmwareStatusNotification %s not queued", status)
            return
        self._wake()
