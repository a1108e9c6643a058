"""Get15118EVCertificate (OCPP 2.0.1 M02/M03): the car's CertificateInstallationReq / CertificateUpdateReq,
forwarded to the CSMS as received, and the CSMS's EXI answer for the car.

The SECC calls `ev_certificate` (controller/v2g/secc/certificate_provider.py) and waits at most its own
deadline; this side adds none of its own beyond the SECC's, and answers None (the SECC then says FAILED) when
no link is accepted, the CSMS does not answer, refuses (status Failed) or sends what is not base64.
"""
from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

EXI_REQUEST_MAX = 5600  # Get15118EVCertificateRequest.exiRequest maxLength (characters of base64)


class EvCertificateRelay:
    def __init__(self, call_now: Callable[[Any], Awaitable[Any]]):
        self._call_now = call_now  # the service's CALL outside the queue: None offline or without an answer
        self.last_status: str | None = None  # the CSMS's last answer, for logs and tests

    async def ev_certificate(self, action: str, schema_namespace: str, exi_request: bytes) -> bytes | None:
        from ocpp.v201 import call
        encoded = base64.b64encode(exi_request).decode("ascii")
        if len(encoded) > EXI_REQUEST_MAX:
            log.warning("OCPP: the car's certificate request is %d bytes, too long for Get15118EVCertificate",
                        len(exi_request))
            return None
        answer = await self._call_now(call.Get15118EVCertificate(
            iso15118_schema_version=schema_namespace, action=action, exi_request=encoded))
        self.last_status = getattr(answer, "status", None)
        if answer is None or self.last_status != "Accepted":
            log.warning("OCPP: Get15118EVCertificate (%s) answered %s", action, self.last_status or "nothing")
            return None
        try:
            return base64.b64decode(answer.exi_response, validate=True) or None
        except (binascii.Error, ValueError, TypeError):
            log.warning("OCPP: Get15118EVCertificate answered an exiResponse that is not base64")
            return None
