"""Plug & Charge at the CSMS (OCPP 2.0.1 C07): the contract chain named for Authorize, and the CSMS's
certificateStatus turned into the ISO 15118-2 response code the car is given.

Each certificate of the chain except the root is named as OCSP names it (SHA-256 of its issuer's name and
key, its serial, the responder from its AIA; built by controller/ocpp/ocsp_status.request_data, as for the
SECC leaf). A certificate whose issuer is not at hand (the last sub-CA when the station holds no MO root) or
that names no OCSP responder is left out: its issuer key hash or responderURL cannot be given."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from controller.ocpp.authorization import Verdict
from controller.ocpp.ocsp_status import request_data

if TYPE_CHECKING:
    from controller.ocpp.contract_settings import ContractSettings

log = logging.getLogger(__name__)

MAX_HASH_DATA = 4  # AuthorizeRequest iso15118CertificateHashData maxItems

# AuthorizeCertificateStatusEnumType -> ISO-2 responseCodeType
ISO2_CODES = {
    "Accepted": "OK",
    "SignatureError": "FAILED_SignatureError",
    "CertificateExpired": "FAILED_CertificateExpired",
    "CertificateRevoked": "FAILED_CertificateRevoked",
    "NoCertificateAvailable": "FAILED_NoCertificateAvailable",
    "CertChainError": "FAILED_CertChainError",
    "ContractCancelled": "FAILED_ContractCanceled",  # ISO-2 spells it with one l
}


def iso2_code(certificate_status: str | None) -> str:
    """The car's response code for the CSMS's certificateStatus (None: the CSMS said nothing: OK). A status
    this table does not know is a plain FAILED: never OK for what was not understood."""
    if certificate_status is None:
        return "OK"
    return ISO2_CODES.get(certificate_status, "FAILED")


def certificate_hash_data(chain_ders: Iterable[bytes], roots: Iterable = ()) -> list[dict]:
    """OCSPRequestDataType (the ocpp package's snake_case) for the chain leaf first, sub-CAs after; `roots`:
    the MO roots at hand (x509.Certificate), where the last sub-CA's issuer is looked for. [] for a chain
    that cannot be read."""
    from cryptography import x509
    try:
        chain = [x509.load_der_x509_certificate(der) for der in chain_ders]
    except ValueError as exc:
        log.warning("OCPP: the contract chain is not DER X.509 (%s): no certificate hash data", exc)
        return []
    known = [*chain, *roots]
    data: list[dict] = []
    for cert in chain:
        issuer = next((c for c in known if c.subject == cert.issuer and c is not cert), None)
        entry = request_data(cert, issuer) if issuer is not None else None
        if entry is not None:
            data.append(entry)
    return data[:MAX_HASH_DATA]


CERTIFICATE_MAX = 5500  # AuthorizeRequest certificate maxLength


@dataclass(frozen=True)
class ContractRequest:
    """What Authorize carries for a contract, and the contract's rules where the CSMS's word is missing."""
    hash_data: list[dict]
    central: bool = False              # the station could not validate the chain: the CSMS must
    certificate: str | None = None     # the chain in PEM for the CSMS to validate (central)
    offline_allowed: bool = False      # ContractValidationOffline (a locally validated contract)

    def certificate_status(self, said: str | None) -> str | None:
        if said is None and self.central:  # asked to validate, the CSMS said nothing: nobody has validated it
            return "NoCertificateAvailable"
        return said

    def offline_verdict(self) -> Verdict:
        if self.central:
            return Verdict({"status": "Invalid"}, "offline: nobody can validate the contract", "NoCertificateAvailable")
        if self.offline_allowed:
            return Verdict({"status": "Accepted"}, "offline: contract validated locally (ContractValidationOffline)")
        return Verdict({"status": "Invalid"}, "offline: contracts refused (ContractValidationOffline false)")


def pem_chain(chain_ders: Iterable[bytes]) -> str | None:
    """The chain as PEM, leaf first (None when unreadable or too long for Authorize)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    try:
        text = "".join(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode("ascii")
                       for der in chain_ders)
    except ValueError:
        return None
    return text if len(text) <= CERTIFICATE_MAX else None


async def present_contract(identification, token, connector_id: int, roots: Iterable = (),
                           settings: ContractSettings | None = None) -> tuple[str, str, str]:
    """A Plug & Charge ContractToken (controller/v2g/contract/contract_token.py) to OCPP's identification as
    an eMAID idToken with its chain's hash data (and the chain itself when the station could not validate it):
    (outcome, text, ISO-2 code for the car)."""
    central = not token.locally_validated
    request = ContractRequest(certificate_hash_data(token.chain_ders(), roots), central,
                              pem_chain(token.chain_ders()) if central else None,
                              settings is not None and settings.validation_offline)
    presented = await identification.present(token.id_token(), connector_id, "contract", request)
    verdict = presented.verdict
    code = iso2_code(verdict.certificate_status) if verdict is not None else "OK"
    if presented.outcome == "refused" and code == "OK":
        code = "FAILED"  # the eMAID itself refused (idTokenInfo not Accepted), as for a card
    return presented.outcome, presented.text, code
