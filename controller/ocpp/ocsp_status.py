"""GetCertificateStatus (OCPP 2.0.1 M06): the OCSP status of the SECC leaf, asked of the CSMS, kept and renewed.

The request names the leaf as OCSP does (SHA-256 of the issuer's name and key, the serial) and the responder
from the leaf's Authority Information Access. The CSMS answers with the DER OCSP response (base64); it is kept
in the certificate folder (secc-ocsp.der, atomic write) with its nextUpdate, and asked again once a day, or
at its nextUpdate when that comes first, or at once when the leaf changes. A leaf without an OCSP responder
in its AIA is not asked about (logged once).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

from controller.ocpp.certificates import hash_data, write_atomically, x509

log = logging.getLogger(__name__)

REFRESH = datetime.timedelta(days=1)
RETRY = datetime.timedelta(minutes=10)  # after a failed or unanswered request
LeafChain = Callable[[], list]  # the SECC leaf, then its issuer (x509.Certificate); [] when there is none


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def responder_url(cert) -> str | None:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    from cryptography.x509.oid import AuthorityInformationAccessOID
    return next((d.access_location.value for d in access
                 if d.access_method == AuthorityInformationAccessOID.OCSP), None)


def request_data(leaf, issuer) -> dict | None:
    """OCSPRequestDataType in the ocpp package's snake_case; None without a responder URL."""
    url = responder_url(leaf)
    if url is None:
        return None
    data = hash_data(leaf, issuer, "SHA256")
    return {"hash_algorithm": data["hashAlgorithm"], "issuer_name_hash": data["issuerNameHash"],
            "issuer_key_hash": data["issuerKeyHash"], "serial_number": data["serialNumber"],
            "responder_url": url[:512]}


class SeccOcspStatus:
    def __init__(self, folder: Path, clock: Callable[[], datetime.datetime] = _now):
        self.file = folder / "secc-ocsp.der"
        self._clock = clock
        self.leaf_chain: LeafChain = lambda: []  # the app's SECC leaf and issuer
        self._due: datetime.datetime | None = None  # None: ask at the next turn
        self._asked_for: int | None = None  # the serial the cached answer is for
        self._warned_serial: int | None = None

    def response(self) -> bytes | None:
        """The kept DER OCSP response for the leaf in use (stapling, the console), or None."""
        try:
            return self.file.read_bytes()
        except OSError:
            return None

    def next_update(self) -> datetime.datetime | None:
        der = self.response()
        if der is None:
            return None
        from cryptography.x509 import ocsp
        try:
            return ocsp.load_der_ocsp_response(der).next_update_utc
        except ValueError:
            return None

    def _take_kept(self, serial: int, now: datetime.datetime) -> None:
        """After a restart: a kept answer for this leaf that is still current is not asked for again."""
        der = self.response()
        if der is None:
            return
        from cryptography.x509 import ocsp
        try:
            kept = ocsp.load_der_ocsp_response(der)
            if kept.serial_number == serial and kept.next_update_utc and kept.next_update_utc > now:
                self._asked_for, self._due = serial, min(kept.next_update_utc, now + REFRESH)
        except ValueError:
            pass

    def summary(self, serial: int) -> str:
        """The kept answer for the leaf `serial` in a few words ("" when none is kept for it)."""
        der = self.response()
        if der is None:
            return ""
        from cryptography.x509 import ocsp
        try:
            kept = ocsp.load_der_ocsp_response(der)
            if kept.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL or kept.serial_number != serial:
                return ""
            until = f" until {kept.next_update_utc:%Y-%m-%d}" if kept.next_update_utc else ""
            return f"OCSP {kept.certificate_status.name.lower()}{until}"
        except ValueError:
            return ""

    async def refresh(self, send: Callable[[Any], Awaitable[Any]]) -> None:
        """At each turn of the link's worker: ask when due (see the module's text)."""
        chain = self.leaf_chain()
        if len(chain) < 2:
            return
        leaf, issuer = chain[0], chain[1]
        now = self._clock()
        if self._asked_for is None:
            self._take_kept(leaf.serial_number, now)
        if leaf.serial_number == self._asked_for and self._due is not None and now < self._due:
            return
        data = request_data(leaf, issuer)
        if data is None:
            if self._warned_serial != leaf.serial_number:
                log.warning("OCPP: the SECC leaf names no OCSP responder (AIA): no GetCertificateStatus")
                self._warned_serial = leaf.serial_number
            return
        from ocpp.v201 import call
        self._asked_for, self._due = leaf.serial_number, now + RETRY  # no storm while the CSMS is away
        answer = await send(call.GetCertificateStatus(ocsp_request_data=data))
        if getattr(answer, "status", None) != "Accepted" or not getattr(answer, "ocsp_result", None):
            log.warning("OCPP: GetCertificateStatus answered %s", getattr(answer, "status", "nothing"))
            return
        try:
            der = base64.b64decode(answer.ocsp_result, validate=True)
            from cryptography.x509 import ocsp
            parsed = ocsp.load_der_ocsp_response(der)
            next_update = parsed.next_update_utc if parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL \
                else None
        except (binascii.Error, ValueError) as exc:
            log.warning("OCPP: GetCertificateStatus answered an unreadable OCSP response: %s", exc)
            return
        self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(self.file, der)
        self._due = max(now + RETRY, min(now + REFRESH, next_update or now + REFRESH))
        log.info("OCPP: the SECC leaf's OCSP status is kept until %s", self._due)
