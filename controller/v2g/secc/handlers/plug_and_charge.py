"""ISO-2 PaymentDetailsReq, CertificateInstallationReq, CertificateUpdateReq (Plug & Charge) are not built.

They follow a PaymentServiceSelectionReq with Contract payment, which we refuse (we offer ExternalPayment only),
so they are never in sequence: the session answers FAILED_SequenceError without asking (no `ask`) and closes.
The schema makes every field of these responses mandatory, so the answers carry empty placeholders that a car
ignores after a FAILED code."""
from __future__ import annotations

from controller.connector.ev_session import Answer
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
