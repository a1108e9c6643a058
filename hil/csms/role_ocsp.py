"""The rig CSMS as the OCSP responder's relay for GetCertificateStatus: it finds the certificate the station
names (issuer name and key hashes, serial) among those it knows and answers Accepted with a real OCSP response
(cryptography's OCSPResponseBuilder) signed by the issuer itself; an unknown certificate gets Failed.
`revoked` holds the serials to answer as revoked (the pnc-revoked family)."""
from __future__ import annotations

import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

VALID_FOR = datetime.timedelta(days=2)  # nextUpdate: the station keeps the answer this long at most


def _key_hash(cert: x509.Certificate) -> str:
    bits = cert.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha256(bits).hexdigest()


class OcspResponder:
    def __init__(self) -> None:
        self.known: list[tuple[x509.Certificate, x509.Certificate, object]] = []  # (cert, issuer, issuer's key)
        self.revoked: set[int] = set()
        self.asked: list[dict] = []

    def know(self, cert: x509.Certificate, issuer: x509.Certificate, issuer_key) -> None:
        self.known.append((cert, issuer, issuer_key))

    def answer(self, request: dict) -> tuple[str, str | None]:
        """OCSPRequestData (snake_case, as the ocpp package hands it) -> (status, base64 DER OCSP response)."""
        self.asked.append(request)
        for cert, issuer, key in self.known:
            if (format(cert.serial_number, "x") == request["serial_number"].lower().lstrip("0")
                    and hashlib.sha256(cert.issuer.public_bytes()).hexdigest() == request["issuer_name_hash"].lower()
                    and _key_hash(issuer) == request["issuer_key_hash"].lower()):
                return "Accepted", base64.b64encode(self._response(cert, issuer, key)).decode("ascii")
        return "Failed", None

    def _response(self, cert, issuer, key) -> bytes:
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        revoked = cert.serial_number in self.revoked
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=issuer, algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now, next_update=now + VALID_FOR,
            revocation_time=now - datetime.timedelta(hours=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
