"""Which EV request is allowed when: the one table the connector and the SECC both read.

Two parts, because two things order the requests of a V2G session:
- the opening (SessionSetup to payment selection), ordered by the request that came before: the SECC answers
  these itself, the connector never sees them;
- the DC phases, ordered by the connector's state (table.py): for each request, what it does in each state
  where it is allowed. In every other state it is out of sequence: answered FAILED_SequenceError.

A step is SERVE (answered in this state), ACKNOWLEDGE (answered OK, nothing changes: the stop is under way),
AFTER_POWER_DOWN (SessionStop while stopping: the session ends once the output is safe), or the name of the
table trigger that takes the connector into the state where the request is served.
"""
from __future__ import annotations

from controller.connector.table import SESSION_STATES

SERVE = "serve"
ACKNOWLEDGE = "acknowledge"
AFTER_POWER_DOWN = "after_power_down"

# ---- the opening: request -> the requests that may follow it --------------------------------------------
# ServiceDetailReq (ISO-2 only; DIN has no handler for it) may repeat, once per service the car asks about.
OPENING = {
    "SessionSetupReq": ("ServiceDiscoveryReq",),
    "ServiceDiscoveryReq": ("ServiceDiscoveryReq", "ServiceDetailReq", "ServicePaymentSelectionReq",
                            "PaymentServiceSelectionReq"),
    "ServiceDetailReq": ("ServiceDetailReq", "PaymentServiceSelectionReq"),
}
# The opening's own requests: out of order once the connector has taken over.
OPENING_ONLY = frozenset(kind for allowed in OPENING.values() for kind in allowed)


def opening_allows(last_request: str | None, kind: str) -> bool:
    """Whether `kind` may follow `last_request` (None: nothing after the handshake yet) as far as the opening
    goes; past the opening the connector's state decides (PHASES)."""
    if kind == "SessionStopReq":
        return last_request is not None
    if last_request is None:
        return False
    allowed = OPENING.get(last_request)
    if allowed is not None:
        return kind in allowed
    return kind not in OPENING_ONLY


# ---- the DC phases: request -> {state: step} ---------------------------------------------------------------
_STOPPING = ("stopping", "welding_detection", "error_shutdown", "session_end")

PHASES: dict[str, dict[str, str]] = {
    "SessionSetupReq": {"plugged": "ev_session_setup", "session_end": "ev_session_setup"},
    "AuthorizationReq": {"negotiating": "ev_authorize", "authorizing": SERVE},  # DIN: ContractAuthentication
    "ChargeParameterDiscoveryReq": {"authorizing": "ev_charge_parameters", "parameter_discovery": SERVE},
    "CableCheckReq": {"parameter_discovery": "ev_cable_check", "cable_check": SERVE},
    "PreChargeReq": {"cable_check": "ev_precharge", "precharge": SERVE},
    "PowerDeliveryReq(start)": {"precharge": "ev_power_delivery_start"},
    "PowerDeliveryReq(stop)": {**dict.fromkeys(("charging", "precharge", "cable_check"), "ev_power_delivery_stop"),
                               **dict.fromkeys(_STOPPING, ACKNOWLEDGE)},
    "CurrentDemandReq": {"charging": SERVE, **dict.fromkeys(("stopping", "error_shutdown", "emergency"), ACKNOWLEDGE)},
    "WeldingDetectionReq": dict.fromkeys(_STOPPING, SERVE),
    "SessionStopReq": {**dict.fromkeys(("plugged", *SESSION_STATES), "ev_session_stop"),
                       **dict.fromkeys(("charging", "precharge", "cable_check"), "ev_power_delivery_stop"),
                       "stopping": AFTER_POWER_DOWN,
                       **dict.fromkeys(("session_end", "emergency", "error_shutdown"), ACKNOWLEDGE)},
}

# States where a request out of sequence is not recorded as the car's EV_SEQUENCE_ERROR: the session is over,
# failed already, or never started.
SEQUENCE_ERROR_NOT_RECORDED = frozenset({"emergency", "error_shutdown", "session_end", "available", "unavailable"})


def step(request: str, state: str) -> str | None:
    """What `request` does in `state`; None: out of sequence."""
    return PHASES[request].get(state)
