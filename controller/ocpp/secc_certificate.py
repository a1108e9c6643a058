"""The SECC leaf over OCPP (2.0.1 block M, A03 for V2G): SignCertificate(V2GCertificate) and its CertificateSigned.

The CSMS asks (TriggerMessage SignV2GCertificate) or the app does at start when OCPP is configured and no SECC
leaf is; the link's worker then sends SignCertificate with a CSR for a new P-256 key. The subject follows the
ISO 15118-2 SECC certificate profile: CN = the station's identity, O = SecurityCtrlr.OrganizationName,
C = the country (from the EVSE id), DC = CPO. The answer, CertificateSigned with certificateType
V2GCertificate, must be for that key and chain to an installed V2GRootCertificate; it is then written with
its key as one 0600 file (the certificate store's atomic write: a crash leaves the old pair or the new one)
and handed to whoever serves TLS to cars (`on_installed`: the app swaps it into the V2GTP listener).

Files beside the station's own (controller/ocpp/certificates.py): v2g-pending-key.pem, secc.pem.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from controller.ocpp.certificates import (
    CertificateRefused, CertificateStore, hash_data, serialization, signed_for_request, write_atomically,
)
from controller.ocpp.csr_child import build_csr, csr_in_child

log = logging.getLogger(__name__)

V2G_CERTIFICATE = "V2GCertificate"
V2G_ROOT = "V2GRootCertificate"
Installed = Callable[[str, str], None]  # (chain file, key file): the same file, chain then key


class SeccCertificateSigning:
    def __init__(self, store: CertificateStore, station_id: str, organization: Callable[[], str],
                 wake: Callable[[], None], notify: Callable[[str, str], None],
                 retry_settings: Callable[[], tuple[float, int]] = lambda: (60.0, 3)):
        self._store = store
        self._station_id = station_id
        self._organization = organization
        self._wake = wake
        self._notify = notify
        self._wanted = False
        self.country = ""  # C= of the CSR: two letters (the EVSE id's country), "" leaves it out
        self.on_installed: Installed = lambda chain, key: None
        self.sign_status: str | None = None  # the CSMS's answer to our last SignCertificate(V2GCertificate)
        # A02.FR.17-19 as for the station's certificate: asked again after CertSigningWaitMinimum, doubled each
        # time, at most CertSigningRepeatTimes times, while no CertificateSigned came
        self._retry_settings = retry_settings
        self._retry_at: float | None = None
        self._retry_wait = 0.0
        self._repeats_left = 0

    @property
    def pending_key_file(self) -> Path:
        return self._store.folder / "v2g-pending-key.pem"

    @property
    def leaf_file(self) -> Path:
        """The signed SECC chain followed by its key (mode 0600)."""
        return self._store.folder / "secc.pem"

    def signed_leaf(self) -> Path | None:
        """The leaf the CSMS signed earlier, when there is one: it wins over the [v2g.tls] files at start."""
        return self.leaf_file if self.leaf_file.exists() else None

    def request(self) -> str:
        """TriggerMessage SignV2GCertificate, or the app at start: a CSR at the next turn of the link's worker."""
        self._wanted = True
        wait, repeats = self._retry_settings()
        self._retry_wait, self._repeats_left = max(1.0, wait), int(repeats)
        self._wake()
        return "Accepted"

    def csr_subject(self) -> list[tuple[str, str]]:
        """The ISO 15118-2 SECC profile: CN = the station's identity, O, C when known, DC = CPO."""
        names = [("CN", self._station_id[:64])]
        organization = self._organization()
        if organization:
            names.append(("O", organization[:64]))
        if len(self.country) == 2 and self.country.isalpha():
            names.append(("C", self.country.upper()))
        return names + [("DC", "CPO")]

    def make_csr(self) -> str:
        """A CSR for a new P-256 key, kept as pending (in this process: send_request uses a child)."""
        self._store._ready()
        return build_csr(self.pending_key_file, self.csr_subject())

    async def send_request(self, send: Callable[[Any], Awaitable[Any]]) -> None:
        """SignCertificate(V2GCertificate) when one is wanted (called at each turn of the link's worker)."""
        if not self._wanted and self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._retry_at = None
            if self._repeats_left > 0:
                self._repeats_left -= 1
                self._wanted = True
            else:
                log.warning("OCPP: no CertificateSigned came for the SECC leaf's CSR; not asking again")
        if not self._wanted:
            return
        self._wanted = False
        from ocpp.v201 import call
        try:  # in a child process: the controller does not carry cryptography (about 9 MB) for one key and CSR
            self._store._ready()
            csr = await csr_in_child(self.pending_key_file, self.csr_subject())
        except (OSError, ValueError) as exc:  # the key cannot be kept: no request the answer could fit
            log.warning("OCPP: no CSR for the SECC leaf made: %s", exc)
            return
        self._retry_at = time.monotonic() + self._retry_wait
        asyncio.get_running_loop().call_later(self._retry_wait, self._wake)  # the worker may sleep till a heartbeat
        self._retry_wait *= 2
        answer = await send(call.SignCertificate(csr=csr, certificate_type=V2G_CERTIFICATE))
        self.sign_status = getattr(answer, "status", None)
        if self.sign_status != "Accepted":
            log.warning("OCPP: SignCertificate(V2GCertificate) answered %s", self.sign_status)

    def accept_signed(self, chain_pem: str) -> Path:
        """Check the chain (our pending key, our name, an installed V2G root) and install it; the file written.
        CertificateRefused says why not, and nothing changes then."""
        chain, key_pem = signed_for_request(chain_pem, self.pending_key_file, self._station_id[:64],
                                            "V2G certificate signing request")
        roots = self._store.roots(V2G_ROOT)
        if not roots:
            raise CertificateRefused("InvalidCertificate", "no V2GRootCertificate is installed to check it against")
        self._store._check_chain(chain, roots)
        pems = [c.public_bytes(serialization.Encoding.PEM) for c in chain
                if c.issuer != c.subject]  # the car holds the root: TLS shows the leaf and the sub-CAs
        write_atomically(self.leaf_file, b"".join(pems) + key_pem, 0o600)
        self.pending_key_file.unlink(missing_ok=True)
        self._retry_at = None
        return self.leaf_file

    def certificate_signed(self, chain_pem: str) -> tuple[str, dict | None]:
        """CertificateSigned(V2GCertificate): (status, statusInfo) in the ocpp package's snake_case."""
        try:
            path = self.accept_signed(chain_pem)
        except CertificateRefused as refused:
            log.warning("OCPP: CertificateSigned(V2GCertificate) refused: %s", refused)
            self._notify("InvalidChargingStationCertificate", f"V2G: {refused}")
            return "Rejected", {"reason_code": refused.reason[:20], "additional_info": str(refused)[:512]}
        except OSError as exc:
            return "Rejected", {"reason_code": "InternalError", "additional_info": str(exc)[:512]}
        log.info("OCPP: a new SECC leaf is installed (%s)", path)
        self._notify("ReconfigurationOfSecurityParameters", "new V2G (SECC) certificate installed")
        try:
            self.on_installed(str(path), str(path))
        except Exception:  # the TLS listener's trouble: the leaf stays installed for the next start
            log.exception("OCPP: the new SECC leaf could not be put in use now")
        return "Accepted", None


def _snake(data: dict) -> dict:
    return {"hash_algorithm": data["hashAlgorithm"], "issuer_name_hash": data["issuerNameHash"],
            "issuer_key_hash": data["issuerKeyHash"], "serial_number": data["serialNumber"]}


def chain_hash_data(chain: list, roots: list) -> dict | None:
    """GetInstalledCertificateIds' V2GCertificateChain entry (snake_case) for the SECC leaf in use: the leaf,
    and as children the sub-CAs whose issuer is known (the next in the chain, or an installed V2G root)."""
    if len(chain) < 2:
        return None
    children = []
    for cert, following in zip(chain[1:], chain[2:] + [None]):
        issuer = following or next((r for r in roots if r.subject == cert.issuer), None)
        if issuer is not None:
            children.append(_snake(hash_data(cert, issuer)))
    entry = {"certificate_type": "V2GCertificateChain", "certificate_hash_data": _snake(hash_data(chain[0], chain[1]))}
    if children:
        entry["child_certificate_hash_data"] = children
    return entry
