"""The CSMS's security requests (OCPP 2.0.1 blocks A and M) and the station's SignCertificate.

A02/A03: the CSMS asks (TriggerMessage SignChargingStationCertificate) or the station decides; the link's
worker then sends SignCertificate with a new key's CSR (a handler must not wait for a CALL's answer), and
CertificateSigned installs the signed chain for the next connection. Payloads arrive in the `ocpp`
package's snake_case; answers go back in snake_case too (ocpp turns them into camelCase).
"""
from __future__ import annotations

import asyncio
import datetime
import logging
import ssl
import time
from typing import Any, Awaitable, Callable

from ocpp.v201 import call
from websockets.exceptions import InvalidMessage, InvalidStatus

from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.certificates import CertificateRefused, CertificateStore
from controller.ocpp.device_model import DeviceModel
from controller.ocpp.ocsp_status import SeccOcspStatus
from controller.ocpp.secc_certificate import V2G_CERTIFICATE, SeccCertificateSigning, chain_hash_data

log = logging.getLogger(__name__)

STATION_CERTIFICATE = "ChargingStationCertificate"
RENEW_BEFORE = datetime.timedelta(days=30)  # A03: a new certificate is asked for this long before the end...
TRIAL_ATTEMPTS = 3  # refused connects with a new certificate before the one before is taken back
RENEW_SHARE = 0.2  # ...or when less than this share of its lifetime is left, whichever comes later
Notify = Callable[[str, str], None]  # (security event type, techInfo)


def refused_at_handshake(exc: BaseException) -> bool:
    """The CSMS was there but turned the station away (TLS alert, dropped handshake, 401/403)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False  # the CSMS's certificate, not ours
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code in (401, 403)
    return isinstance(exc, (ssl.SSLError, InvalidMessage, ConnectionResetError, EOFError))


def _info(reason: str, detail: str) -> dict:
    return {"reason_code": reason[:20], "additional_info": detail[:512]}


class StationSecurity:
    def __init__(self, cfg: OcppConfig, station_id: str, device_model: DeviceModel | None,
                 wake: Callable[[], None], notify: Notify | None = None):
        self.certificates = CertificateStore(cfg, station_id)
        self._device_model = device_model  # SecurityCtrlr's OrganizationName, CertSigning*; None: defaults
        self._wake = wake
        self._notify = notify or (lambda kind, info: None)
        self._sign_wanted = False
        self._new_key = True  # the next CSR is for a new key (False: the same request again)
        self._retry_at: float | None = None  # when SignCertificate is sent again without a CertificateSigned
        self._retry_wait = 0.0
        self._repeats_left = 0
        self.sign_status: str | None = None  # the CSMS's answer to our last SignCertificate
        self._trial_refusals = 0
        self.needs_csms_root: Callable[[], bool] = lambda: cfg.security_profile >= 2  # the network's, once built
        self.v2g = SeccCertificateSigning(self.certificates, station_id, self._organization, wake, self._notify,
                                          self._retry_settings)
        self.ocsp = SeccOcspStatus(self.certificates.folder)  # GetCertificateStatus for the SECC leaf

    # ---- SignCertificate / CertificateSigned ---------------------------------------------------------------
    def request_certificate(self) -> str:
        """Ask for a new station certificate at the next turn of the link's worker."""
        self._sign_wanted, self._new_key = True, True
        model = self._device_model
        wait = model.number("SecurityCtrlr", "CertSigningWaitMinimum") if model else 60.0
        self._retry_wait = max(1.0, wait)
        self._repeats_left = int(model.number("SecurityCtrlr", "CertSigningRepeatTimes")) if model else 3
        self._wake()
        return "Accepted"

    def link_up(self, profile: int) -> None:
        self._trial_refusals = 0
        try:  # the link task must live on whatever the disk does
            if profile == 3 and self.certificates.on_trial():
                self.certificates.confirm()
                log.info("OCPP: the new station certificate connected; the one before is deleted")
            self.renew_if_expiring(profile)
        except (OSError, ValueError) as exc:
            log.warning("OCPP: station certificate bookkeeping failed: %s", exc)

    def link_failed(self, profile: int, exc: BaseException) -> None:
        """A new certificate the CSMS keeps refusing is given up for the one before (the station stays
        reachable); a CSMS that is merely away does not count."""
        if profile != 3 or not self.certificates.on_trial() or not refused_at_handshake(exc):
            return
        self._trial_refusals += 1
        if self._trial_refusals >= TRIAL_ATTEMPTS:
            self._trial_refusals = 0
            try:
                self.certificates.revert()
            except OSError as exc:
                log.warning("OCPP: cannot go back to the station certificate before: %s", exc)
                return
            log.warning("OCPP: the CSMS refused the new station certificate %d times; back to the one before",
                        TRIAL_ATTEMPTS)
            self._notify("InvalidChargingStationCertificate", f"new certificate discarded: {exc}")

    def renew_if_expiring(self, profile: int) -> bool:
        """A03: at a profile-3 link-up, ask for a new certificate when the one shown ends soon."""
        cert = self.certificates.client_certificate() if profile == 3 else None
        if cert is None:
            return False
        left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
        if left > min(RENEW_BEFORE, (cert.not_valid_after_utc - cert.not_valid_before_utc) * RENEW_SHARE):
            return False
        log.info("OCPP: the station certificate ends in %s; asking the CSMS for a new one", left)
        self.request_certificate()
        return True

    async def send_requests(self, send: Callable[[Any], Awaitable[Any]]) -> None:
        """SignCertificate when asked for; again after CertSigningWaitMinimum, doubled each time, at most
        CertSigningRepeatTimes times, while no CertificateSigned came (A02.FR.17-19)."""
        if not self._sign_wanted and self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._retry_at = None
            if self._repeats_left > 0:
                self._repeats_left -= 1
                self._sign_wanted, self._new_key = True, False
            else:
                log.warning("OCPP: no CertificateSigned came for the station's CSR; not asking again")
        await self.v2g.send_request(send)  # the SECC leaf's CSR, when one is wanted (secc_certificate.py)
        await self.ocsp.refresh(send)  # its OCSP status, daily (ocsp_status.py)
        if not self._sign_wanted:
            return
        self._sign_wanted = False
        organization = self._organization()
        try:  # in a child process, as the SECC's: a new key, a CSR and a 0600 file (csr_child.py)
            csr = await self.certificates.make_csr_in_child(organization or "", new_key=self._new_key)
        except (OSError, ValueError) as exc:  # the key cannot be kept: no request the answer could fit
            log.warning("OCPP: no CSR made: %s", exc)
            return
        self._retry_at = time.monotonic() + self._retry_wait
        asyncio.get_running_loop().call_later(self._retry_wait, self._wake)  # the worker may sleep till a heartbeat
        self._retry_wait *= 2
        answer = await send(call.SignCertificate(csr=csr, certificate_type=STATION_CERTIFICATE))
        self.sign_status = getattr(answer, "status", None)
        if self.sign_status != "Accepted":
            log.warning("OCPP: SignCertificate answered %s", self.sign_status)

    def _retry_settings(self) -> tuple[float, int]:
        model = self._device_model
        if model is None:
            return 60.0, 3
        return (model.number("SecurityCtrlr", "CertSigningWaitMinimum"),
                int(model.number("SecurityCtrlr", "CertSigningRepeatTimes")))

    def _organization(self) -> str:
        model = self._device_model
        return (model.get({"name": "SecurityCtrlr"}, {"name": "OrganizationName"}, None)[1] if model else "") or ""

    def certificate_signed(self, chain: str, certificate_type: str | None) -> tuple[str, dict | None]:
        if certificate_type == V2G_CERTIFICATE:
            return self.v2g.certificate_signed(chain)
        if (certificate_type or STATION_CERTIFICATE) != STATION_CERTIFICATE:
            return "Rejected", _info("UnsupportedParam", f"no certificate type {certificate_type!r}")
        try:
            self.certificates.accept_signed(chain)
        except CertificateRefused as refused:
            log.warning("OCPP: CertificateSigned refused: %s", refused)
            self._notify("InvalidChargingStationCertificate", str(refused))
            return "Rejected", _info(refused.reason, str(refused))
        self._retry_at = None
        log.info("OCPP: a new station certificate is installed; in use from the next connection")
        self._notify("ReconfigurationOfSecurityParameters", "new charging station certificate installed")
        return "Accepted", None

    # ---- InstallCertificate / DeleteCertificate / GetInstalledCertificateIds ------------------------------
    def install_certificate(self, use: str, pem: str) -> tuple[str, dict | None]:
        try:
            self.certificates.install_root(use, pem)
        except CertificateRefused as refused:
            log.warning("OCPP: InstallCertificate %s refused: %s", use, refused)
            return ("Failed" if refused.reason == "OutOfStorage" else "Rejected"), _info(refused.reason, str(refused))
        except OSError as exc:
            return "Failed", _info("OutOfStorage", str(exc))
        self._notify("ReconfigurationOfSecurityParameters", f"{use} installed")
        return "Accepted", None

    def delete_certificate(self, hash_data: dict) -> str:
        status = self.certificates.delete(hash_data, keep_last_csms_root=self.needs_csms_root())
        if status == "Accepted":
            self._notify("ReconfigurationOfSecurityParameters", "certificate deleted")
        return status

    def installed_ids(self, uses: list[str] | None) -> tuple[str, list[dict] | None]:
        chains = self.certificates.installed(uses)
        entries = [{"certificate_type": c["certificateType"], "certificate_hash_data": {
            "hash_algorithm": c["certificateHashData"]["hashAlgorithm"],
            "issuer_name_hash": c["certificateHashData"]["issuerNameHash"],
            "issuer_key_hash": c["certificateHashData"]["issuerKeyHash"],
            "serial_number": c["certificateHashData"]["serialNumber"]}} for c in chains]
        if not uses or "V2GCertificateChain" in uses:  # the SECC leaf in use (secc_certificate.py)
            leaf = chain_hash_data(self.ocsp.leaf_chain(), self.certificates.roots("V2GRootCertificate"))
            entries += [leaf] if leaf else []
        if not entries:
            return "NotFound", None
        return "Accepted", entries

    def missing_for(self, profile: int) -> str | None:
        """What a link with this security profile would lack here, or None."""
        if profile >= 2 and not self.certificates.root_ders("CSMSRootCertificate"):
            return f"profile {profile} needs a CSMSRootCertificate (InstallCertificate first)"
        if profile == 3 and not (self.certificates.station_chain() or self.certificates.cfg.client_cert_file):
            return "profile 3 needs a station certificate (SignCertificate first)"
        return None

    def tls_context(self, profile: int):
        return self.certificates.tls_context(profile)
