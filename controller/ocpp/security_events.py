"""Security events (OCPP 2.0.1 A04 and part 2 appendix 1): the station's security log, and
SecurityEventNotification for the critical ones.

Every event goes into the security log (kept in memory, newest last, and logged). A critical event is also
written to the OCPP queue, the one TransactionEvents use: on disk before it is sent, sent in order once a
link is up, removed only when the CSMS answered; so none is lost while offline or across a restart.
Events of the link itself (the CSMS certificate, TLS, a refused login) are noted once per kind of failure
in a row, not once per reconnect attempt: a CSMS away for a day must not fill the queue.
"""
from __future__ import annotations

import logging
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Callable

from websockets.exceptions import InvalidStatus

from controller.formats.events import ConsoleLogin, Event
from controller.ocpp.transactions import timestamp
from controller.store.ocpp_queue import OcppQueue

log = logging.getLogger(__name__)

# the appendix's list: type -> critical (critical ones are pushed to the CSMS)
SECURITY_EVENTS: dict[str, bool] = {
    "FirmwareUpdated": True, "FailedToAuthenticateAtCsms": False, "CsmsFailedToAuthenticate": False,
    "SettingSystemTime": True, "StartupOfTheDevice": True, "ResetOrReboot": True, "SecurityLogWasCleared": True,
    "ReconfigurationOfSecurityParameters": False, "MemoryExhaustion": True, "InvalidMessages": False,
    "AttemptedReplayAttacks": False, "TamperDetectionActivated": True, "InvalidFirmwareSignature": True,
    "InvalidFirmwareSigningCertificate": True, "InvalidCsmsCertificate": True,
    "InvalidChargingStationCertificate": True, "InvalidTLSVersion": True, "InvalidTLSCipherSuite": True,
    "MaintenanceLoginAccepted": True, "MaintenanceLoginFailed": True,
}
# OpenSSL's reasons for a CSMS that offers no TLS version, or no cipher suite, this station accepts
TLS_VERSION_REASONS = {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE",
                       "UNSUPPORTED_SSL_VERSION"}
TLS_CIPHER_REASONS = {"NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "SSLV3_ALERT_HANDSHAKE_FAILURE",
                      "NO_SUITABLE_SIGNATURE_ALGORITHM"}
ACTION = "SecurityEventNotification"
LOG_SIZE = 500  # security log entries kept
TECH_INFO = 255  # techInfo's length in the schema


@dataclass(frozen=True)
class SecurityEntry:
    kind: str
    t: float
    tech_info: str
    critical: bool


def link_failure_kind(exc: BaseException) -> str | None:
    """The security event a failed connect to the CSMS is, if any."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "InvalidCsmsCertificate"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in TLS_VERSION_REASONS:
            return "InvalidTLSVersion"
        if reason in TLS_CIPHER_REASONS:
            return "InvalidTLSCipherSuite"
        return None
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
        return "FailedToAuthenticateAtCsms"
    return None


class SecurityEvents:
    def __init__(self, queue: OcppQueue, clock: Callable[[], float], wake: Callable[[], None]):
        self._queue = queue
        self._clock = clock
        self._wake = wake
        self.entries: deque[SecurityEntry] = deque(maxlen=LOG_SIZE)  # the security log
        self._link_failure: str | None = None  # the last link failure noted, until a link is up

    def note(self, kind: str, tech_info: str = "") -> None:
        critical = SECURITY_EVENTS.get(kind, False)
        now = self._clock()
        self.entries.append(SecurityEntry(kind, now, tech_info, critical))
        log.warning("OCPP security event %s%s", kind, f": {tech_info}" if tech_info else "")
        if not critical:
            return
        payload = {"type": kind, "timestamp": timestamp(now)}
        if tech_info:
            payload["techInfo"] = tech_info[:TECH_INFO]
        try:
            self._queue.append(ACTION, payload, now)  # on disk before it is sent, like a TransactionEvent
        except Exception:  # e.g. the store's disk is full: the log above still has it
            log.exception("OCPP: security event %s could not be queued", kind)
            return
        self._wake()

    def link_failed(self, exc: BaseException) -> None:
        kind = link_failure_kind(exc)
        if kind is not None and kind != self._link_failure:
            self.note(kind, str(exc))
        self._link_failure = kind

    def link_up(self) -> None:
        self._link_failure = None

    def on_event(self, event: Event) -> None:
        """The app's events that are security events: logins at the technician console."""
        if isinstance(event, ConsoleLogin):
            if event.locked and not event.failures:
                return  # a try while the console is locked: no PIN was checked, and the queue must not flood
            info = f"{{'user': '{event.role}', 'origin': 'console'}}"
            self.note("MaintenanceLoginAccepted" if event.ok else "MaintenanceLoginFailed", info)
