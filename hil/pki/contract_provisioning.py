"""ISO 15118-2 contract certificate installation in the rig: the car's request and the provisioning service's
answer (the rig CSMS plays the service for Get15118EVCertificate), with the rig PKI.

CertificateUpdate works the same way for a car that holds a contract: the request signed with the contract's
key, the new contract's key encrypted to the old contract's key.

Car: CertificateInstallationReq with its OEM provisioning certificate and the V2G roots it trusts, signed with
the OEM provisioning key. Service: checks that signature, makes a new contract key pair and certificate
(MO sub-CA 2, CN = the eMAID), encrypts the contract's private key to the car's provisioning key (ECDH P-256
with an ephemeral key; the ISO-2 KDF [V2G2-818]: concatenation KDF, SHA-256, OtherInfo = AlgorithmID 0x01,
PartyUInfo "U", PartyVInfo "V", 128-bit key; AES-128-CBC of the 32-byte private value, the random IV
prepended) and signs the answer with the certificate provisioning service's leaf (its SAProvisioning chain
under the V2G root, which the car checks). Car: checks chain and signature, decrypts, keeps the contract.

The signature references the four elements ISO 15118-2 signs: the contract chain (id1), the encrypted key
(id2), the DH public key (id3) and the eMAID (id4, an EXI fragment in the relaxed element fragment grammar,
since two types declare eMAID); the car requires all four.
"""
from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from hil.pki import xml_signing
from hil.pki.profiles import Issued, Role, issue
from hil.pki.rig_pki import V2gPki

KDF_OTHER_INFO = b"\x01" + b"U" + b"V"  # AlgorithmID, PartyUInfo, PartyVInfo ([V2G2-818])
IDS = {"ContractSignatureCertChain": "id1", "ContractSignatureEncryptedPrivateKey": "id2", "DHpublickey": "id3",
       "eMAID": "id4"}


class ProvisioningRefused(Exception):
    """The request or the answer does not hold; the message says why."""


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=1)


@functools.lru_cache(maxsize=4)
def cps_chain(pki: V2gPki) -> tuple[Issued, Issued, Issued]:
    """The certificate provisioning service's chain under the V2G root: sub-CA 1, sub-CA 2, its signing leaf."""
    sub1 = issue(Role.SUB_CA_1, "CPSSubCA1", "V2G", issuer=pki.v2g_root, days=4 * 365, not_before=_now())
    sub2 = issue(Role.SUB_CA_2, "CPSSubCA2", "V2G", issuer=sub1, days=2 * 365, not_before=_now())
    leaf = issue(Role.TLS_LEAF, "CPSLeaf", "CPS", issuer=sub2, days=365, not_before=_now())
    return sub1, sub2, leaf


def _session_key(shared_secret: bytes) -> bytes:
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=16, otherinfo=KDF_OTHER_INFO).derive(shared_secret)


def encrypt_contract_key(car_key: ec.EllipticCurvePublicKey, contract_key: ec.EllipticCurvePrivateKey
                         ) -> tuple[bytes, bytes]:
    """(the ephemeral DH public key, 65 bytes uncompressed; IV || AES-128-CBC of the private value, 48 bytes)."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    key = _session_key(ephemeral.exchange(ec.ECDH(), car_key))
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    secret = contract_key.private_numbers().private_value.to_bytes(32, "big")  # two AES blocks: no padding
    dh_public = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
    return dh_public, iv + encryptor.update(secret) + encryptor.finalize()


def decrypt_contract_key(encrypted: bytes, car_key: ec.EllipticCurvePrivateKey, dh_public: bytes
                         ) -> ec.EllipticCurvePrivateKey:
    if len(encrypted) != 48:
        raise ProvisioningRefused(f"the encrypted key is {len(encrypted)} bytes, not IV + 32")
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), dh_public)
    decryptor = Cipher(algorithms.AES(_session_key(car_key.exchange(ec.ECDH(), peer))),
                       modes.CBC(encrypted[:16])).decryptor()
    value = decryptor.update(encrypted[16:]) + decryptor.finalize()
    return ec.derive_private_key(int.from_bytes(value, "big"), ec.SECP256R1())


# ---- the car ------------------------------------------------------------------------------------------------
def installation_request(pki: V2gPki, session_id: bytes) -> bytes:
    """The car's CertificateInstallationReq (a whole V2G_Message in EXI), signed with its provisioning key."""
    root = pki.v2g_root.cert
    request = iso2.CertificateInstallationReq(
        Id="id1", OEMProvisioningCert=_der(pki.oem_provisioning.cert),
        ListOfRootCertificateIDs=iso2.ListOfRootCertificateIDs(RootCertificateID=[iso2.X509IssuerSerial(
            X509IssuerName=root.issuer.rfc4514_string(), X509SerialNumber=root.serial_number)]))
    signature = xml_signing.sign(pki.oem_provisioning.key, [("CertificateInstallationReq", request)])
    return exi.encode("iso2", iso2.V2G_Message(Header=iso2.MessageHeader(SessionID=session_id, Signature=signature),
                                               Body=iso2.Body(CertificateInstallationReq=request)))


def update_request(pki: V2gPki, contract: "InstalledContract", session_id: bytes) -> bytes:
    """The car's CertificateUpdateReq for its `contract`, signed with the contract's key."""
    root = pki.v2g_root.cert
    request = iso2.CertificateUpdateReq(
        Id="id1", ContractSignatureCertChain=iso2.CertificateChain(
            Certificate=_der(contract.chain[0]),
            SubCertificates=iso2.SubCertificates(Certificate=[_der(c) for c in contract.chain[1:]])),
        eMAID=contract.emaid, ListOfRootCertificateIDs=iso2.ListOfRootCertificateIDs(RootCertificateID=[
            iso2.X509IssuerSerial(X509IssuerName=root.issuer.rfc4514_string(), X509SerialNumber=root.serial_number)]))
    signature = xml_signing.sign(contract.key, [("CertificateUpdateReq", request)])
    return exi.encode("iso2", iso2.V2G_Message(Header=iso2.MessageHeader(SessionID=session_id, Signature=signature),
                                               Body=iso2.Body(CertificateUpdateReq=request)))


@dataclass(frozen=True)
class InstalledContract:
    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]  # contract leaf, MO sub-CA 2, MO sub-CA 1
    emaid: str


def _chained(chain: list[x509.Certificate], root: x509.Certificate) -> bool:
    try:
        for cert, issuer in zip(chain, chain[1:] + [root]):
            cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chain_of(element: iso2.CertificateChain) -> list[x509.Certificate]:
    subs = element.SubCertificates.Certificate if element.SubCertificates else []
    return [x509.load_der_x509_certificate(der) for der in [element.Certificate, *subs]]


def install(pki: V2gPki, exi_response: bytes, old: InstalledContract | None = None) -> InstalledContract:
    """The car's side of CertificateInstallationRes (or, with the `old` contract, CertificateUpdateRes):
    ProvisioningRefused unless the provisioning chain leads to its V2G root, the signature holds, the key
    decrypts to the contract's and the contract leads to the MO root."""
    message = exi.decode("iso2", exi_response)
    kind = "CertificateUpdateRes" if old is not None else "CertificateInstallationRes"
    answer = getattr(message.Body, kind)
    if answer is None or not str(getattr(answer.ResponseCode, "value", answer.ResponseCode)).startswith("OK"):
        raise ProvisioningRefused(f"no OK {kind} ({exi.message_type(message)})")
    provisioning = _chain_of(answer.SAProvisioningCertificateChain)
    if not _chained(provisioning, pki.v2g_root.cert):
        raise ProvisioningRefused("the provisioning chain does not lead to the car's V2G root")
    problem = xml_signing.verify(message.Header.Signature, [
        ("ContractSignatureCertChain", answer.ContractSignatureCertChain),
        ("ContractSignatureEncryptedPrivateKey", answer.ContractSignatureEncryptedPrivateKey),
        ("DHpublickey", answer.DHpublickey), ("eMAID", answer.eMAID)], provisioning[0].public_key())
    if problem:
        raise ProvisioningRefused(f"signature: {problem}")
    decrypting = old.key if old is not None else pki.oem_provisioning.key  # Update: to the old contract's key
    key = decrypt_contract_key(answer.ContractSignatureEncryptedPrivateKey.content, decrypting,
                               answer.DHpublickey.content)
    chain = _chain_of(answer.ContractSignatureCertChain)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
            chain[0].public_key().public_bytes(serialization.Encoding.DER, public):
        raise ProvisioningRefused("the decrypted key is not the contract certificate's")
    if not _chained(chain, pki.mo_root.cert):
        raise ProvisioningRefused("the contract does not lead to the MO root")
    return InstalledContract(key, chain, answer.eMAID.content)


# ---- the certificate provisioning service ------------------------------------------------------------------
def answer_installation(pki: V2gPki, exi_request: bytes, emaid: str) -> bytes:
    """The service's CertificateInstallationRes (a whole V2G_Message in EXI, the request's SessionID)."""
    message = exi.decode("iso2", exi_request)
    request = message.Body.CertificateInstallationReq
    if request is None:
        raise ProvisioningRefused(f"not a CertificateInstallationReq ({exi.message_type(message)})")
    car_cert = x509.load_der_x509_certificate(request.OEMProvisioningCert)
    problem = xml_signing.verify(message.Header.Signature, [("CertificateInstallationReq", request)],
                                 car_cert.public_key())
    if problem:
        raise ProvisioningRefused(f"the car's signature: {problem}")
    return _answer(pki, message.Header.SessionID, "CertificateInstallationRes", car_cert.public_key(), emaid)


def answer_update(pki: V2gPki, exi_request: bytes) -> bytes:
    """The service's CertificateUpdateRes: a new contract for the same eMAID, its key encrypted to the old
    contract's key (the car signed the request with it; the old contract must lead to the MO root)."""
    message = exi.decode("iso2", exi_request)
    request = message.Body.CertificateUpdateReq
    if request is None:
        raise ProvisioningRefused(f"not a CertificateUpdateReq ({exi.message_type(message)})")
    old_chain = _chain_of(request.ContractSignatureCertChain)
    if not _chained(old_chain, pki.mo_root.cert):
        raise ProvisioningRefused("the contract to update does not lead to the MO root")
    problem = xml_signing.verify(message.Header.Signature, [("CertificateUpdateReq", request)],
                                 old_chain[0].public_key())
    if problem:
        raise ProvisioningRefused(f"the car's signature: {problem}")
    return _answer(pki, message.Header.SessionID, "CertificateUpdateRes", old_chain[0].public_key(), request.eMAID)


def _answer(pki: V2gPki, session_id: bytes, kind: str, car_key: ec.EllipticCurvePublicKey, emaid: str) -> bytes:
    contract_key = ec.generate_private_key(ec.SECP256R1())
    contract = issue(Role.CONTRACT_LEAF, emaid, "MO", issuer=pki.mo_sub2, days=2 * 365, not_before=_now(),
                     key=contract_key)
    dh_public, encrypted = encrypt_contract_key(car_key, contract_key)
    sub1, sub2, leaf = cps_chain(pki)
    parts = {
        "ContractSignatureCertChain": iso2.CertificateChain(
            Id=IDS["ContractSignatureCertChain"], Certificate=_der(contract.cert),
            SubCertificates=iso2.SubCertificates(Certificate=[_der(pki.mo_sub2.cert), _der(pki.mo_sub1.cert)])),
        "ContractSignatureEncryptedPrivateKey": iso2.ContractSignatureEncryptedPrivateKey(
            Id=IDS["ContractSignatureEncryptedPrivateKey"], content=encrypted),
        "DHpublickey": iso2.DiffieHellmanPublickey(Id=IDS["DHpublickey"], content=dh_public),
        "eMAID": iso2.EMAID(Id=IDS["eMAID"], content=emaid),
    }
    response = getattr(iso2, kind)(
        ResponseCode=iso2.ResponseCode.OK,
        SAProvisioningCertificateChain=iso2.CertificateChain(Certificate=_der(leaf.cert), SubCertificates=(
            iso2.SubCertificates(Certificate=[_der(sub2.cert), _der(sub1.cert)]))), **parts)
    signature = xml_signing.sign(leaf.key, list(parts.items()))
    return exi.encode("iso2", iso2.V2G_Message(Header=iso2.MessageHeader(SessionID=session_id, Signature=signature),
                                               Body=iso2.Body(**{kind: response})))
