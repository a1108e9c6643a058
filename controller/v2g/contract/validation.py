"""Is the car's contract certificate one we may trust? (ISO 15118-2 PaymentDetailsReq: the SECC
validates the contract chain before it answers.)

The car sends its contract leaf and up to two MO sub-CAs (DER); we hold the MO roots. The answer is OK or
the ISO-2 response code the SECC sends:
  FAILED_NoCertificateAvailable  no MO root installed: nothing to validate against
  FAILED_CertificateExpired      a certificate of the path is outside its validity period
  FAILED_CertChainError          no path to an installed root, or a certificate the profile forbids there
                                 (key usage, basic constraints, path length), or a leaf whose key is not P-256
  FAILED                         the eMAID of the request is not the one the leaf names (subject CN)
The path itself is built and checked by pyhanko-certvalidator (RFC 5280); both it and `cryptography` are
imported only when a contract is checked, so a controller without Plug & Charge never loads them. The path
check runs on a worker thread: its first import (~150 ms) and each validation (a few ms) would otherwise stall
the event loop that answers CurrentDemand on the other connectors.
"""
from __future__ import annotations

import asyncio
import datetime
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

OK = "OK"
NO_ROOT = "FAILED_NoCertificateAvailable"
EXPIRED = "FAILED_CertificateExpired"
CHAIN_ERROR = "FAILED_CertChainError"
REVOKED = "FAILED_CertificateRevoked"
EMAID_MISMATCH = "FAILED"  # ISO-2 has no code of its own for it

RootSource = Callable[[], "list[x509.Certificate]"]


def normalized_emaid(emaid: str) -> str:
    """ISO-2 writes an eMAID with or without dashes (DE-8AA-1A2B3C4D5-6 or DE8AA1A2B3C4D56); case-blind."""
    return emaid.replace("-", "").strip().upper()


@dataclass(frozen=True)
class ContractVerdict:
    code: str                  # OK or an ISO-2 FAILED code
    reason: str                # for the log and the technician; never a key
    leaf: "x509.Certificate | None" = None  # the contract leaf, when the code is OK
    central: bool = False      # OK without an MO root: the chain is left to the CSMS (not validated here)

    @property
    def ok(self) -> bool:
        return self.code == OK


class ContractValidator:
    def __init__(self, roots: RootSource, *, clock: Callable[[], datetime.datetime] | None = None,
                 central: Callable[[], bool] = lambda: False):
        """`roots`: the MO roots installed now (read at every check: OCPP may install or delete some);
        `central()`: without a root, the CSMS may validate the chain now (OCPP CentralContractValidationAllowed
        and online)."""
        self._roots = roots
        self._central = central
        self._clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))

    def mo_roots(self) -> "list[x509.Certificate]":
        try:
            return list(self._roots())
        except Exception:  # an unreadable store must not end the session with a traceback
            log.exception("v2g: the MO roots could not be read")
            return []

    def available(self) -> bool:
        """Whether Contract payment can be offered at all (at least one MO root, or the CSMS validates)."""
        return bool(self.mo_roots()) or self._central_now()

    def _central_now(self) -> bool:
        try:
            return bool(self._central())
        except Exception:  # a device model that cannot be read: no central validation
            log.exception("v2g: CentralContractValidationAllowed could not be read")
            return False

    async def check(self, emaid: str, leaf_der: bytes, sub_ca_ders: list[bytes]) -> ContractVerdict:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec
        roots = self.mo_roots()
        central = not roots and self._central_now()
        if not roots and not central:
            return ContractVerdict(NO_ROOT, "no MO root certificate is installed")
        try:
            leaf = x509.load_der_x509_certificate(leaf_der)
            subs = [x509.load_der_x509_certificate(der) for der in sub_ca_ders]
        except ValueError as exc:
            return ContractVerdict(CHAIN_ERROR, f"a certificate of the contract chain is not DER X.509 ({exc})")
        now = self._clock()
        for cert in (leaf, *subs):
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return ContractVerdict(EXPIRED, f"{_name(cert)} is valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                                                f"{cert.not_valid_after_utc:%Y-%m-%d}, not now")
        key = leaf.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            return ContractVerdict(CHAIN_ERROR, "the contract leaf's key is not on secp256r1")
        if not central:
            problem = await asyncio.to_thread(lambda: asyncio.run(_path_problem(leaf, subs, roots, now)))
            if problem is not None:
                return problem
        named = _common_name(leaf)
        if normalized_emaid(named) != normalized_emaid(emaid):
            return ContractVerdict(EMAID_MISMATCH, f"eMAID {emaid} is not the contract leaf's ({named})")
        if central:
            return ContractVerdict(OK, f"contract {named}: no MO root here, its chain goes to the CSMS", leaf, True)
        return ContractVerdict(OK, f"contract {named} chains to an installed MO root", leaf)


async def _path_problem(leaf, subs, roots, now) -> ContractVerdict | None:
    """pyhanko-certvalidator's verdict on the path leaf -> subs -> one of `roots` (no fetching, no revocation
    data: revocation is for OCSP via the CSMS)."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator import errors

    def asn1(cert):
        return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))

    context = ValidationContext(trust_roots=[asn1(r) for r in roots], other_certs=[asn1(s) for s in subs],
                                moment=now, allow_fetching=False, revocation_mode="soft-fail")
    validator = CertificateValidator(asn1(leaf), validation_context=context)
    try:
        await validator.async_validate_usage(key_usage={"digital_signature"})
    except (errors.ExpiredError, errors.NotYetValidError) as exc:
        return ContractVerdict(EXPIRED, f"the contract path is outside its validity: {exc}")
    except errors.RevokedError as exc:
        return ContractVerdict(REVOKED, f"the contract path holds a revoked certificate: {exc}")
    except (errors.PathError, errors.ValidationError) as exc:  # no path, a CA or leaf the profile forbids
        return ContractVerdict(CHAIN_ERROR, f"the contract chain does not hold: {exc}")
    if _is_ca(leaf):
        return ContractVerdict(CHAIN_ERROR, "the contract leaf is a CA certificate")
    return None


def _is_ca(cert) -> bool:
    from cryptography import x509
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _common_name(cert) -> str:
    from cryptography.x509.oid import NameOID
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _name(cert) -> str:
    return cert.subject.rfc4514_string()
