"""ISO15118Ctrlr's switches for Plug & Charge contract validation (OCPP 2.0.1 part 2 appendix, C07).

CentralContractValidationAllowed: a station that cannot validate a contract itself (no MO root installed)
may hand the chain to the CSMS in Authorize (certificate, PEM) and let it decide; false: such a contract is
refused (FAILED_NoCertificateAvailable). ContractValidationOffline: while the CSMS cannot be reached, a
contract the station validated locally authorizes the car (true), or contracts are refused (false). OCPP
2.0.1 names no switch of its own for local validation: it is done whenever an MO root is installed."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.ocpp.device_model import DeviceModel, Variable

ISO15118 = "ISO15118Ctrlr"
CENTRAL = "CentralContractValidationAllowed"
OFFLINE = "ContractValidationOffline"


def contract_variables() -> list[tuple[Variable, str]]:
    """The variables with their defaults, for the catalogue: no central validation, no contracts offline (a
    revoked contract cannot be told from a good one without the CSMS)."""
    from controller.ocpp.device_model import RW, Variable  # the catalogue imports this module
    return [(Variable(ISO15118, CENTRAL, "boolean", RW), "false"),
            (Variable(ISO15118, OFFLINE, "boolean", RW), "false")]


class ContractSettings:
    def __init__(self, device_model: DeviceModel):
        self._model = device_model

    def _flag(self, name: str) -> bool:
        status, value = self._model.get({"name": ISO15118}, {"name": name}, None)
        return status == "Accepted" and value == "true"

    @property
    def central_validation_allowed(self) -> bool:
        return self._flag(CENTRAL)

    @property
    def validation_offline(self) -> bool:
        return self._flag(OFFLINE)
