"""ISO-2 CertificateInstallationReq and CertificateUpdateReq (Plug & Charge: a car gets or renews its contract).

Both go, as received, to the certificate provider (OCPP Get15118EVCertificate,
controller/v2g/secc/certificate_provider.py) when the station has one; its EXI answer goes back to the car as
it is. Without a provider, or when it fails, the answer is FAILED with placeholders: the schema makes every
field of these responses mandatory, and a car ignores them after a FAILED code.

The contract itself is handled elsewhere: PaymentDetailsReq (chain check, challenge) in payment_details.py,
AuthorizationReq with Contract payment (signature, the eMAID and its chain to OCPP) in
contract_authorization.py."""
from __future__ import annotations

from controller.connector.ev_session import Answer
from controller.v2g.secc.certificate_provider import INSTALL, ISO2_NAMESPACE, UPDATE, CertificateProvider
from controller.v2g.secc.context import SeccContext

PLACEHOLDER_EMAID = "ZZ000000000000"  # eMAID is 14 or 15 characters


def respond_certificate_installation(ctx: SeccContext, answer: Answer, code):
    return ctx.types.CertificateInstallationRes(ResponseCode=code, **_empty_certificates(ctx))


def respond_certificate_update(ctx: SeccContext, answer: Answer, code):
    return ctx.types.CertificateUpdateRes(ResponseCode=code, **_empty_certificates(ctx))


def _empty_certificates(ctx: SeccContext) -> dict:
    t = ctx.types
    return {
        "SAProvisioningCertificateChain": t.CertificateChain(Certificate=b""),
        "ContractSignatureCertChain": t.CertificateChain(Id="id1", Certificate=b""),
        "ContractSignatureEncryptedPrivateKey": t.ContractSignatureEncryptedPrivateKey(Id="id2", content=b""),
        "DHpublickey": t.DiffieHellmanPublickey(Id="id3", content=b""),
        "eMAID": t.EMAID(Id="id4", content=PLACEHOLDER_EMAID),
    }


async def forward_certificate_installation(ctx: SeccContext, provider: CertificateProvider, raw: bytes) -> bytes | None:
    return await provider.ev_certificate(INSTALL, ISO2_NAMESPACE, raw)


async def forward_certificate_update(ctx: SeccContext, provider: CertificateProvider, raw: bytes) -> bytes | None:
    return await provider.ev_certificate(UPDATE, ISO2_NAMESPACE, raw)
