"""What every handler needs: the connector, the negotiated protocol's message types, and what the cable offers."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from controller.connector.ev_session import Answer, EvseStatus, IsolationLevel, ResponseCode
from controller.connector.ports import EvSession
from controller.formats.v2g.messages import din, iso2
from controller.v2g.contract.contract_session import ContractSession

MESSAGE_TYPES: dict[str, ModuleType] = {"din": din, "iso2": iso2}
SCHEDULE_TUPLE_ID = 1  # the one SAScheduleTuple we offer (no smart charging yet)


@dataclass(frozen=True)
class CableOffer:
    """Per cable (CCS1 or NACS), from the connector's config: visible in SessionSetup and ServiceDiscovery."""
    evse_id: str
    energy_transfer_modes: tuple[str, ...]


@dataclass
class SeccContext:
    connector: EvSession        # the connector's EV-session interface (controller/connector/ports.py)
    schema: str                 # "din" or "iso2"
    offer: CableOffer
    allow_list: frozenset[str] = frozenset()  # EVCCIDs (lower-case hex) authorized on sight
    session_id: bytes = b""
    evcc_id: str = ""
    evse_id: str | bytes = ""   # as told in SessionSetupRes; ISO-2 repeats it in CurrentDemandRes
    service_detail_id: int = 0  # the ServiceID of the ISO-2 ServiceDetailReq being answered (echoed back)
    tls: bool = False           # the V2GTP connection is TLS: Plug & Charge may be offered
    contracts: Any = None       # controller/v2g/contract ContractValidator (None: no Plug & Charge)
    present_token: Callable[[Any, int], Any] | None = None  # a ContractToken goes where a card's idToken goes
    header: Any = None          # the MessageHeader of the request being answered (its Signature)
    contract: ContractSession = field(default_factory=ContractSession)
    types: ModuleType = field(init=False)

    def __post_init__(self) -> None:
        self.types = MESSAGE_TYPES[self.schema]

    def plain_answer(self, code: ResponseCode = ResponseCode.OK,
                     isolation: IsolationLevel | None = None) -> Answer:
        """An answer for a request the connector need not see (service and payment selection, refusals)."""
        return Answer(code=code, status=self.connector.evse_status(isolation),
                      present_voltage_v=round(self.connector.present_voltage(), 1))

    def out_of_sequence(self, kind: str, why: str) -> Answer:
        """FAILED_SequenceError for a request the session's own state refuses, recorded as the car's
        EV_SEQUENCE_ERROR (as the session does for a request out of the opening's order)."""
        self.connector.raise_fault("EV_SEQUENCE_ERROR", f"{kind}: {why}")
        return self.plain_answer(ResponseCode.FAILED_SEQUENCE_ERROR)

    def contract_possible(self) -> bool:
        """ISO-2 Plug & Charge needs TLS and at least one MO root to check a contract against."""
        return self.schema == "iso2" and self.tls and self.contracts is not None and self.contracts.available()

    def response_code(self, code: str) -> Any:
        return self.types.ResponseCode(code)

    def dc_status(self, status: EvseStatus) -> Any:
        t = self.types
        return t.DC_EVSEStatus(EVSEIsolationStatus=t.IsolationLevel(status.isolation.value),
                               EVSEStatusCode=t.DC_EVSEStatusCode(status.status_code.value),
                               NotificationMaxDelay=0,
                               EVSENotification=t.EVSENotification(status.notification.value))
