"""The rig CSMS judging Plug & Charge contracts at Authorize (OCPP 2.0.1 C07, issue 17).

`pnc-revoked`: the car's contract is good by its chain (the station validates it locally and asks), but the
CSMS, as an OCSP check of the chain it was named would tell, says CertificateRevoked: the station must refuse
the car with FAILED_CertificateRevoked and give no energy. The eMAID itself is known and Accepted, so only the
certificate status can be what refuses it. `pnc-central`: the station holds no MO root and leaves the chain
to the CSMS, which accepts it."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

REVOKED_ROLE = "pnc-revoked"
CENTRAL_ROLE = "pnc-central"
ROLES = (REVOKED_ROLE, CENTRAL_ROLE)


class ContractStatusRole:
    def __init__(self, role: str, csms):
        from hil.pki.rig_pki import DEFAULT_EMAID
        self.status = "CertificateRevoked" if role == REVOKED_ROLE else "Accepted"
        self.named: list[list] = []  # each Authorize's iso15118CertificateHashData (snake_case)
        self.role = role
        self.csms = csms
        csms.tokens[DEFAULT_EMAID] = {"status": "Accepted"}
        csms.contract_status_answer = self.answer

    async def before_cars(self, station: str, timeout_s: float) -> None:
        """`pnc-central`: the station may leave a contract's chain to the CSMS (it holds no MO root)."""
        if self.role != CENTRAL_ROLE:
            return
        await self.csms.wait_for(lambda: station in self.csms.stations and self.csms.calls("StatusNotification"),
                                 timeout_s)
        answer = await self.csms.set_variables(station, [{
            "component": {"name": "ISO15118Ctrlr"}, "variable": {"name": "CentralContractValidationAllowed"},
            "attributeValue": "true"}])
        status = answer.set_variable_result[0]["attribute_status"]
        if status != "Accepted":
            raise RuntimeError(f"SetVariables CentralContractValidationAllowed: {status}")

    def answer(self, hash_data: list) -> str:
        self.named.append(hash_data)
        log.info("rig CSMS: contract chain of %d certificates named at Authorize: %s", len(hash_data), self.status)
        return self.status
