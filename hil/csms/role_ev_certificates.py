"""The rig CSMS as a certificate provisioning service for Get15118EVCertificate (OCPP 2.0.1 M02): the car's
CertificateInstallationReq in, a signed CertificateInstallationRes with a new contract out
(hil/pki/contract_provisioning.py); Update: CertificateUpdateReq in, a new contract for the same eMAID out.
Anything it cannot read or check is answered Failed.

Set it on a simulator with `csms.ev_certificate_answer = ContractProvisioningRole(pki).answer`."""
from __future__ import annotations

import base64
import binascii
import logging
import time

from controller.formats.v2g import exi
from hil.pki.contract_provisioning import ProvisioningRefused, answer_installation, answer_update
from hil.pki.rig_pki import DEFAULT_EMAID, V2gPki

log = logging.getLogger(__name__)

ROLE = "pnc-install"  # the scenario whose car has no contract yet
UPDATE_ROLE = "pnc-update"  # the scenario whose car renews its expiring contract (Get15118EVCertificate Update)


def pnc_install_role(csms, expect: str = "Install") -> "ContractProvisioningRole":
    """`pnc-install` and `pnc-update`: the CSMS provisions (or renews: `expect` "Update") the car's contract
    and accepts its eMAID at Authorize; the verdict wants that `expect` answered Accepted."""
    from hil.pki.rig_pki import rig_pki
    role = ContractProvisioningRole(rig_pki(), expect=expect)
    csms.ev_certificate_answer = role.answer
    csms.tokens[role.emaid] = {"status": "Accepted"}
    return role


class ContractProvisioningRole:
    def __init__(self, pki: V2gPki, emaid: str = DEFAULT_EMAID, expect: str | None = None):
        self.pki = pki
        self.emaid = emaid
        self.expect = expect  # the action the scenario must see answered Accepted (None: nothing asked)
        self.answered: list[tuple[str, str, float]] = []  # (action, status, seconds it took)

    @property
    def problems(self) -> list[str]:
        if self.expect is None or any(a[:2] == (self.expect, "Accepted") for a in self.answered):
            return []
        return [f"no Get15118EVCertificate {self.expect} answered Accepted (answered: {self.answered})"]

    async def answer(self, action: str, exi_request: str) -> tuple[str, str]:
        began = time.perf_counter()
        status, answer = "Failed", ""
        try:
            request = base64.b64decode(exi_request, validate=True)
            if action == "Install":
                answer = base64.b64encode(answer_installation(self.pki, request, self.emaid)).decode("ascii")
            elif action == "Update":
                answer = base64.b64encode(answer_update(self.pki, request)).decode("ascii")
            status = "Accepted" if answer else "Failed"
        except (binascii.Error, exi.ExiError, ProvisioningRefused, ValueError) as exc:
            log.warning("rig CSMS: no contract for this %s request: %s", action, exc)
        self.answered.append((action, status, time.perf_counter() - began))
        return status, answer
