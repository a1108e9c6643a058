"""Issue 14: one table says which EV request is allowed in which state (request_order.py). The connector's answers
follow it, its triggers exist in the transition table, and the SECC's opening order reads from it."""
from __future__ import annotations

import pytest

from controller.connector import request_order
from controller.connector.ev_session import CurrentDemand, EvChargeParameters, ResponseCode
from controller.connector.request_order import ACKNOWLEDGE, AFTER_POWER_DOWN, PHASES, SERVE, opening_allows
from controller.connector.table import STATES, TRANSITIONS
from tests.connector.test_connector import make

pytestmark = pytest.mark.timeout(30)

CALLS = {
    "SessionSetupReq": lambda c: c.ev_setup("abc"),
    "AuthorizationReq": lambda c: c.ev_authorization(),
    "ChargeParameterDiscoveryReq": lambda c: c.ev_charge_parameter_discovery(
        EvChargeParameters(max_voltage_v=420, max_current_a=150)),
    "CableCheckReq": lambda c: c.ev_cable_check_request(),
    "PreChargeReq": lambda c: c.ev_precharge_request(380.0, 2.0),
    "PowerDeliveryReq(start)": lambda c: c.ev_power_delivery(True),
    "PowerDeliveryReq(stop)": lambda c: c.ev_power_delivery(False),
    "CurrentDemandReq": lambda c: c.ev_current_demand(CurrentDemand(target_voltage_v=400.0, target_current_a=10.0)),
    "WeldingDetectionReq": lambda c: c.ev_welding_detection(),
    "SessionStopReq": lambda c: c.ev_stop_session(),
}


def _sources(trigger: str) -> set[str]:
    out: set[str] = set()
    for t in TRANSITIONS:
        if t["trigger"] == trigger:
            src = t["source"]
            out.update(STATES if src == "*" else [src] if isinstance(src, str) else src)
    return out


def test_every_connector_request_has_a_call_and_only_known_states_and_steps():
    assert set(CALLS) == set(PHASES)
    for request, steps in PHASES.items():
        assert set(steps) <= set(STATES), request
        for state, step in steps.items():
            if step not in (SERVE, ACKNOWLEDGE, AFTER_POWER_DOWN):
                assert state in _sources(step), f"{request}: {step} does not leave {state}"


@pytest.mark.parametrize("request_kind", sorted(PHASES))
@pytest.mark.parametrize("state", [s for s in STATES if s != "unavailable"])
def test_a_request_outside_its_states_is_a_sequence_error_and_inside_is_not(request_kind, state):
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    conn.machine.set_state(state, model=conn)  # the state alone: no entry actions, no fault behind it
    answer = CALLS[request_kind](conn)
    allowed = request_order.step(request_kind, state) is not None
    if not allowed:
        assert answer.code == ResponseCode.FAILED_SEQUENCE_ERROR
        recorded = "EV_SEQUENCE_ERROR" in conn.active_faults
        assert recorded == (state not in request_order.SEQUENCE_ERROR_NOT_RECORDED)
    elif (request_kind, state) not in {("PreChargeReq", "cable_check"),  # the cable check not passed yet
                                       ("ChargeParameterDiscoveryReq", "authorizing")}:  # not authorized yet
        assert answer.code != ResponseCode.FAILED_SEQUENCE_ERROR
        assert "EV_SEQUENCE_ERROR" not in conn.active_faults


def test_the_opening_order():
    assert not opening_allows(None, "ServiceDiscoveryReq")  # nothing before SessionSetup
    assert opening_allows("SessionSetupReq", "ServiceDiscoveryReq")
    assert not opening_allows("SessionSetupReq", "ChargeParameterDiscoveryReq")
    assert opening_allows("ServiceDiscoveryReq", "ServiceDetailReq")
    assert opening_allows("ServiceDetailReq", "PaymentServiceSelectionReq")
    assert opening_allows("PaymentServiceSelectionReq", "AuthorizationReq")
    assert not opening_allows("AuthorizationReq", "ServiceDiscoveryReq")  # the opening is over
    assert opening_allows("SessionSetupReq", "SessionStopReq") and not opening_allows(None, "SessionStopReq")


def test_the_secc_reads_the_opening_order_from_the_table(monkeypatch):
    from controller.v2g.secc import session
    assert session.opening_allows is request_order.opening_allows
    monkeypatch.setitem(request_order.OPENING, "SessionSetupReq", ("CableCheckReq",))
    assert session.opening_allows("SessionSetupReq", "CableCheckReq")
