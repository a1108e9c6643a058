"""What the SECC needs from whoever provisions contract certificates (OCPP Get15118EVCertificate): the car's
CertificateInstallationReq / CertificateUpdateReq forwarded as received, the provider's EXI answer returned.

The SECC never imports the OCPP service (the layers contract): the app hands it an object with this one
method. The answer is a whole V2G_Message in EXI (the provider copies the request's SessionID into it) that
goes to the car byte for byte: it carries the provider's XML signature, which any re-encoding would break.
"""
from __future__ import annotations

from typing import Protocol

INSTALL = "Install"  # OCPP CertificateActionEnumType
UPDATE = "Update"
ISO2_NAMESPACE = "urn:iso:15118:2:2013:MsgDef"
# The car waits 5 s for the answer (ISO 15118-2 V2G_EVCC_Msg_Timeout for certificates); the provider gets
# less, so that a FAILED answer still reaches the car in time when it does not answer.
PROVIDER_TIMEOUT_S = 4.0


class CertificateProvider(Protocol):
    async def ev_certificate(self, action: str, schema_namespace: str, exi_request: bytes) -> bytes | None:
        """The provider's EXI answer to the car's request; None when it refused, failed, was not reachable or
        did not answer within PROVIDER_TIMEOUT_S."""
        ...
