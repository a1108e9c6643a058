"""The SECC leaf in use: the certificate (and key) the V2GTP TLS listener shows ISO 15118 cars.

It starts as the [v2g.tls] files; a leaf the CSMS signed (OCPP CertificateSigned V2GCertificate) replaces
it. The listener's ssl.SSLContext is the same object throughout: load_cert_chain on it swaps certificate,
chain and key for every later handshake (OpenSSL clears the old chain first), so no restart and no new
listening socket is needed; sessions already running keep the leaf they shook hands with.
"""
from __future__ import annotations

import logging
import ssl
import time
from pathlib import Path
from typing import Callable

from cryptography import x509

from controller.formats.events import EventSink, FaultCleared, FaultRaised

log = logging.getLogger(__name__)


class SeccLeaf:
    def __init__(self, chain_file: str, key_file: str, context: ssl.SSLContext | None):
        self.chain_file = chain_file  # "" while there is none (no [v2g.tls], nothing signed yet)
        self.key_file = key_file
        self.context = context  # None: the listener has no TLS port (no leaf at start)
        self._parsed: tuple[tuple | None, list[x509.Certificate]] = (None, [])  # ((file, mtime), its chain)

    def certificate(self) -> x509.Certificate | None:
        """The leaf in use, read from its file; None when there is none or it cannot be read."""
        chain = self.chain()
        if self.chain_file and not chain:
            log.warning("v2g: the SECC leaf in %s cannot be read", self.chain_file)
        return chain[0] if chain else None

    def chain(self) -> list[x509.Certificate]:
        """The leaf and the sub-CAs after it ([] when there is none or it is unreadable); parsed again only
        when the file changed (the OCPP worker asks at every turn, for OCSP)."""
        if not self.chain_file:
            return []
        try:
            info = Path(self.chain_file).stat()
            stamp = (self.chain_file, info.st_ino, info.st_mtime_ns)  # a file renamed over has a new inode
            if stamp != self._parsed[0]:
                self._parsed = (stamp, x509.load_pem_x509_certificates(Path(self.chain_file).read_bytes()))
        except (OSError, ValueError):
            return []
        return list(self._parsed[1])

    def replace(self, chain_file: str, key_file: str) -> bool:
        """Use this chain and key from the next handshake on; False (and the old leaf kept) when the
        listener has no TLS context or OpenSSL refuses the pair. The key's content is never logged."""
        if self.context is not None:
            try:  # tried on a scratch context first: a refused pair half-loaded would break the live one
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(chain_file, key_file)
                self.context.load_cert_chain(chain_file, key_file)
            except (OSError, ssl.SSLError) as exc:
                log.warning("v2g: the new SECC leaf %s was not taken: %s", chain_file, exc)
                return False
        self.chain_file, self.key_file = chain_file, key_file
        if self.context is None:
            log.warning("v2g: the SECC leaf %s is kept, but TLS on the V2GTP port starts only at the next "
                        "start (none was configured)", chain_file)
            return False
        log.info("v2g: the SECC leaf is now %s (from the next TLS handshake)", chain_file)
        return True


EXPIRY_CODE = "SECC_CERTIFICATE_EXPIRING"
WARN_BEFORE_S = 30 * 86400.0  # issue #17: 30 days ahead
CHECK_PERIOD_S = 3600.0  # the end moves by days: an hourly look is plenty (and costs one file read)


class SeccLeafExpiryWatch:
    """SECC_CERTIFICATE_EXPIRING, a cabinet-wide warning, while the leaf in use ends within 30 days (or has
    ended); cleared when a new leaf takes its place. As a fault it reaches the console's fault list, the
    store and the CSMS (a NotifyEvent, controller/ocpp/fault_events.py) like STORE_WRITE_FAILED."""

    def __init__(self, leaf: SeccLeaf, emit: EventSink, wall_clock: Callable[[], float] = time.time):
        self._leaf = leaf
        self._emit = emit
        self._wall_clock = wall_clock
        self._next_check = float("-inf")
        self.active = False

    def check(self, monotonic_now: float) -> None:
        """Called from the control loop; looks at the leaf once per CHECK_PERIOD_S."""
        if monotonic_now < self._next_check:
            return
        self._next_check = monotonic_now + CHECK_PERIOD_S
        self.look()

    def look(self) -> None:
        cert = self._leaf.certificate()
        now = self._wall_clock()
        left = None if cert is None else cert.not_valid_after_utc.timestamp() - now
        ending = left is not None and left <= WARN_BEFORE_S
        if ending and not self.active:
            self.active = True
            detail = ("the SECC leaf has ended" if left <= 0 else
                      f"the SECC leaf ends in {int(left // 86400)} days ({cert.not_valid_after_utc:%Y-%m-%d})")
            log.warning("v2g: %s; renew it", detail)
            self._emit(FaultRaised(None, EXPIRY_CODE, "warning", detail, now))  # no connector: cabinet-wide
        elif not ending and self.active:
            self.active = False
            self._emit(FaultCleared(None, EXPIRY_CODE, "warning", "", now))
