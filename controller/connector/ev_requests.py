"""The EV-session requests of a connector (see ev_session.py): what the SECC calls, one small method each.

Each method answers at once. Which request fits which state is request_order.py's table: out of sequence is
answered FAILED_SequenceError and raises EV_SEQUENCE_ERROR; a phase still running answers Ongoing and the car
asks again. Every value the car sends is checked first (a number, not negative, inside the negotiated limits):
a bad one is answered FAILED_WrongChargeParameter and recorded as EV_REQUEST_INVALID, and the port stays in
service. The requests see the connector only through `EvRequestHost`.
"""
from __future__ import annotations

import functools
import math
from contextlib import AbstractContextManager
from typing import Protocol

from controller.formats.cabinet.config import ConnectorConfig
from controller.connector import request_order
from controller.connector.charge_control import ChargeControl
from controller.connector.ev_session import (
    Answer, CurrentDemand, EvChargeParameters, EvseChargeParameters, EvseNotification, EvseStatus,
    EvseStatusCode, IsolationLevel, Processing, ResponseCode,
)
from controller.connector.ports import ModuleGroupPort
from controller.connector.request_order import ACKNOWLEDGE, AFTER_POWER_DOWN, SERVE
from controller.connector.session import SessionRecord
from controller.faults import Fault

EV_SEQUENCE_TIMEOUT_S = 60.0  # V2G_SECC_Sequence_Timeout
USER_STOP_GRACE_S = 5.0  # the car must answer StopCharging with PowerDelivery(stop) within this


class EvRequestHost(Protocol):
    """What the EV-session requests read and drive on their connector."""
    cfg: ConnectorConfig
    group: ModuleGroupPort
    state: str
    session: SessionRecord | None
    authorized: bool
    active_faults: dict[str, Fault]
    evcc_id: str
    ev_parameters: EvChargeParameters | None
    ev_soc: float | None
    last_ev_request_t: float | None
    stop_requested_t: float | None
    demand: CurrentDemand | None
    finish_after_stop: bool
    def clock(self) -> float: ...
    def fire(self, trigger: str) -> bool: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...
    def note_stop_reason(self, reason: str) -> None: ...
    def blocking_faults(self) -> list[Fault]: ...
    def no_blocking_faults(self) -> bool: ...
    def power_path(self, what: str) -> AbstractContextManager[None]: ...
    def cable_check_passed(self) -> bool: ...
    def voltage_limit_v(self) -> float: ...
    def evse_charge_parameters(self) -> EvseChargeParameters: ...
    charge_control: ChargeControl
    def note_car_told(self) -> None: ...
    def present_voltage(self) -> float: ...


def _power_path(call: str):
    """The calls that can move power: an exception inside ends with the power off (OutputGuard.power_path).
    `call` is the connector's name of the request, as CONTROLLER_INTERNAL's detail has always said it."""
    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            with self.host.power_path(f"{call} request"):
                return method(self, *args, **kwargs)
        return guarded
    return wrap


class EvRequests:
    def __init__(self, host: EvRequestHost) -> None:
        self.host = host

    def _enter(self, request: str) -> str | None:
        """Where `request` stands in the present state (request_order.PHASES); a step that is a trigger is
        pulled and the request judged again in the state it led to (None when the trigger did not fire)."""
        host = self.host
        step = request_order.step(request, host.state)
        if step not in (None, SERVE, ACKNOWLEDGE, AFTER_POWER_DOWN):
            if not host.fire(step):
                return None
            step = request_order.step(request, host.state)
        return step

    # ---- the calls -----------------------------------------------------------------------------------
    def setup(self, evcc_id: str) -> Answer:
        host = self.host
        self._heard_from_ev()
        host.evcc_id = evcc_id
        step = request_order.step("SessionSetupReq", host.state)
        if step is None or not host.fire(step):
            return self._sequence_error("SessionSetup")
        return self._answer(evse_id=host.cfg.evse_id or f"US*EVSE*{host.cfg.id}",
                            session_id=host.session.session_id if host.session else "")

    def authorization(self) -> Answer:
        self._heard_from_ev()
        if self._enter("AuthorizationReq") != SERVE:
            return self._sequence_error("Authorization")
        return self._answer(processing=Processing.FINISHED if self.host.authorized else Processing.ONGOING)

    def charge_parameter_discovery(self, ev: EvChargeParameters) -> Answer:
        host = self.host
        self._heard_from_ev()
        step = request_order.step("ChargeParameterDiscoveryReq", host.state)
        if step is None:
            return self._sequence_error("ChargeParameterDiscovery")
        problem = _charge_parameter_problem(ev)
        if problem:
            return self._invalid("ChargeParameterDiscovery", problem)
        if step != SERVE and not host.fire(step):
            return self._sequence_error("ChargeParameterDiscovery (not authorized)")
        host.ev_parameters = ev
        host.ev_soc = ev.soc_percent
        return self._answer(charge_parameters=host.evse_charge_parameters())

    @_power_path("ev_cable_check_request")
    def cable_check(self) -> Answer:
        host = self.host
        self._heard_from_ev()
        if self._enter("CableCheckReq") != SERVE:
            return self._sequence_error("CableCheck")
        done = host.cable_check_passed()
        level = IsolationLevel.INVALID
        if done:
            level = IsolationLevel.WARNING if "ISOLATION_WARNING" in host.active_faults else IsolationLevel.VALID
        return self._answer(processing=Processing.FINISHED if done else Processing.ONGOING, isolation=level)

    @_power_path("ev_precharge_request")
    def precharge(self, target_voltage_v: float, target_current_a: float) -> Answer:
        host = self.host
        self._heard_from_ev()
        step = request_order.step("PreChargeReq", host.state)
        if step not in (None, SERVE) and not host.fire(step):
            return self._answer(code=ResponseCode.FAILED_SEQUENCE_ERROR)  # the cable check not passed yet
        if request_order.step("PreChargeReq", host.state) != SERVE:
            return self._sequence_error("PreCharge")
        problem = _number_problem("EVTargetVoltage", target_voltage_v, host.voltage_limit_v()) \
            or _number_problem("EVTargetCurrent", target_current_a)
        if problem or not host.charge_control.apply_precharge(target_voltage_v, target_current_a):
            return self._invalid("PreCharge", problem or f"EVTargetVoltage {target_voltage_v} V refused")
        return self._answer()

    @_power_path("ev_power_delivery")
    def power_delivery(self, start: bool) -> Answer:
        host = self.host
        self._heard_from_ev()
        if start:
            step = request_order.step("PowerDeliveryReq(start)", host.state)
            if step is not None and host.no_blocking_faults() and not host.charge_control.precharge_reached():
                target = host.charge_control.precharge_target_v()
                host.raise_fault("PRECHARGE_FAILED", f"PowerDelivery(start) at {host.present_voltage():.0f} V, "
                                                     f"EV target {target if target is not None else 'none'} V")
                return self._answer(code=ResponseCode.FAILED)
            if step is None or not host.fire(step):
                return self._sequence_error("PowerDelivery(start)")
            return self._answer()
        step = request_order.step("PowerDeliveryReq(stop)", host.state)
        if step is None:
            return self._sequence_error("PowerDelivery(stop)")
        if step != ACKNOWLEDGE:
            host.note_stop_reason("user_stop" if host.stop_requested_t else "ev_stop")
            host.fire(step)
        return self._answer()

    @_power_path("ev_current_demand")
    def current_demand(self, demand: CurrentDemand) -> Answer:
        host = self.host
        self._heard_from_ev()
        step = request_order.step("CurrentDemandReq", host.state)
        if step == ACKNOWLEDGE:
            return self._answer()
        if step != SERVE:
            return self._sequence_error("CurrentDemand")
        problem = _demand_problem(demand)
        if problem:
            host.charge_control.hold_current_at_zero()
            return self._invalid("CurrentDemand", problem)
        if demand.soc_percent is not None:
            host.ev_soc = demand.soc_percent
        host.demand = demand
        flags = host.charge_control.apply_current_demand(demand)
        return self._answer(**flags)

    def welding_detection(self) -> Answer:
        self._heard_from_ev()
        if request_order.step("WeldingDetectionReq", self.host.state) != SERVE:
            return self._sequence_error("WeldingDetection")
        return self._answer()

    @_power_path("ev_stop_session")
    def stop_session(self) -> Answer:
        host = self.host
        self._heard_from_ev()
        step = request_order.step("SessionStopReq", host.state)
        if step == ACKNOWLEDGE:
            return self._answer()
        if step == "ev_power_delivery_stop":
            # SessionStop without PowerDelivery(stop): take the power down first
            host.note_stop_reason("ev_stop")
            host.fire(step)
            step = request_order.step("SessionStopReq", host.state)
        if step == AFTER_POWER_DOWN:
            host.finish_after_stop = True
            return self._answer()
        host.note_stop_reason("ev_stop")
        if step is None or not host.fire(step):
            return self._sequence_error("SessionStop")
        return self._answer()

    def check_timeouts(self, now: float) -> None:
        """In a session: a car silent for the sequence timeout, or one that does not stop when asked to."""
        host = self.host
        if host.last_ev_request_t is not None and now - host.last_ev_request_t > EV_SEQUENCE_TIMEOUT_S:
            host.raise_fault("EV_TIMEOUT", "no request within the sequence timeout")
        elif host.stop_requested_t is not None and now - host.stop_requested_t > USER_STOP_GRACE_S \
                and host.state in ("charging", "precharge"):
            host.raise_fault("EV_TIMEOUT", "car did not stop after StopCharging")

    # ---- answers -------------------------------------------------------------------------------------
    def evse_status(self, isolation: IsolationLevel | None = None) -> EvseStatus:
        host = self.host
        notification = EvseNotification.NONE
        severities = {f.severity for f in host.active_faults.values()}
        if host.state == "emergency" or "emergency" in severities:
            code = EvseStatusCode.EMERGENCY_SHUTDOWN
            notification = EvseNotification.STOP_CHARGING
        elif host.state == "error_shutdown" or "error" in severities or host.stop_requested_t is not None:
            code = EvseStatusCode.SHUTDOWN
            notification = EvseNotification.STOP_CHARGING
        elif host.state == "cable_check" and not host.cable_check_passed():
            code = EvseStatusCode.ISOLATION_MONITORING_ACTIVE  # Ongoing; at Finished cars require EVSE_Ready
        elif host.state in ("unavailable",):
            code = EvseStatusCode.NOT_READY
        else:
            code = EvseStatusCode.READY
        if isolation is None:  # a warning stays a warning for the car, not Valid
            isolation = IsolationLevel.INVALID
            if host.state in ("precharge", "charging"):
                isolation = IsolationLevel.WARNING if "ISOLATION_WARNING" in host.active_faults \
                    else IsolationLevel.VALID
        return EvseStatus(code, notification, isolation)

    def _answer(self, code: ResponseCode = ResponseCode.OK, isolation: IsolationLevel | None = None,
                **values) -> Answer:
        host = self.host
        if host.state == "emergency" and code == ResponseCode.OK:
            code = ResponseCode.FAILED
        status = self.evse_status(isolation)
        if status.notification == EvseNotification.STOP_CHARGING:
            host.note_car_told()  # an error shutdown may open the contactors once the car has heard this
        return Answer(code=code, status=status,
                      present_voltage_v=round(host.present_voltage(), 1),
                      present_current_a=round(max(0.0, host.group.output_current_a), 1), **values)

    def _invalid(self, request: str, problem: str) -> Answer:
        """A value the car must not send: recorded (a warning), answered FAILED_WrongChargeParameter."""
        self.host.raise_fault("EV_REQUEST_INVALID", f"{request}: {problem}")
        return self._answer(code=ResponseCode.FAILED_WRONG_CHARGE_PARAMETER)

    def _sequence_error(self, request: str) -> Answer:
        host = self.host
        if host.blocking_faults():  # the session already failed: say so, not "wrong order"
            return self._answer(code=ResponseCode.FAILED)
        if host.state not in request_order.SEQUENCE_ERROR_NOT_RECORDED:
            host.raise_fault("EV_SEQUENCE_ERROR", f"{request} in state {host.state}")
        return self._answer(code=ResponseCode.FAILED_SEQUENCE_ERROR)

    def _heard_from_ev(self) -> None:
        self.host.last_ev_request_t = self.host.clock()


# ---- checks of the car's values ----------------------------------------------------------------------------
def _number_problem(name: str, value, maximum: float | None = None, *, positive: bool = False) -> str:
    """Why `value` is not acceptable ("" when it is): a finite number, not negative (or above 0), <= maximum."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{name} {value!r} is not a number"
    if value < 0 or (positive and value == 0):
        return f"{name} {value:g} is {'not positive' if positive else 'negative'}"
    if maximum is not None and value > maximum + 1e-6:
        return f"{name} {value:g} above the negotiated {maximum:g}"
    return ""


def _optional_problem(name: str, value, maximum: float | None = None, *, positive: bool = False) -> str:
    return "" if value is None else _number_problem(name, value, maximum, positive=positive)


def _charge_parameter_problem(ev: EvChargeParameters) -> str:
    return (_number_problem("EVMaximumVoltageLimit", ev.max_voltage_v, positive=True)
            or _number_problem("EVMaximumCurrentLimit", ev.max_current_a, positive=True)
            or _optional_problem("EVMaximumPowerLimit", ev.max_power_w)  # 0 means none (a production MG4)
            or _optional_problem("SOC", ev.soc_percent, 100.0)
            or _optional_problem("EVEnergyCapacity", ev.energy_capacity_wh)
            or _optional_problem("EVEnergyRequest", ev.energy_request_wh))


def _demand_problem(demand: CurrentDemand) -> str:
    """Above the limits is clamped and flagged (the standard's *_limit_reached); these are never valid."""
    return (_number_problem("EVTargetVoltage", demand.target_voltage_v)
            or _number_problem("EVTargetCurrent", demand.target_current_a)
            or _optional_problem("SOC", demand.soc_percent, 100.0)
            or _optional_problem("EVMaximumVoltageLimit", demand.max_voltage_v, positive=True)
            or _optional_problem("EVMaximumCurrentLimit", demand.max_current_a, positive=True)
            or _optional_problem("EVMaximumPowerLimit", demand.max_power_w))  # 0 means none
