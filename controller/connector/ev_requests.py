"""The EV-session interface of a connector (see ev_session.py): one small method per request.

Each method answers at once. A request that does not fit the current phase gets FAILED_SequenceError
and raises EV_SEQUENCE_ERROR; a phase still running answers Ongoing and the car asks again. Every value the
car sends is checked first (a number, not negative, inside the negotiated limits): a bad one is answered
FAILED_WrongChargeParameter and recorded as EV_REQUEST_INVALID, and the port stays in service.
"""
from __future__ import annotations

import functools
import math

from controller.connector.ev_session import (
    Answer, CurrentDemand, EvChargeParameters, EvseChargeParameters, EvseNotification, EvseStatus,
    EvseStatusCode, IsolationLevel, Processing, ResponseCode,
)


def _power_path(method):
    """The calls that can move power: an exception inside ends with the power off (Connector.power_path)."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with self.power_path(f"{method.__name__} request"):
            return method(self, *args, **kwargs)
    return guarded


class EvSide:
    def __init__(self) -> None:
        self.reset_ev_side()

    def reset_ev_side(self) -> None:
        self.evcc_id = ""
        self.ev_parameters: EvChargeParameters | None = None
        self.ev_soc: float | None = None
        self.last_ev_request_t: float | None = None
        self.stop_requested_t: float | None = None
        self.demand: CurrentDemand | None = None

    # ---- the calls -----------------------------------------------------------------------------------
    def ev_setup(self, evcc_id: str) -> Answer:
        self._heard_from_ev()
        self.evcc_id = evcc_id
        if not self.fire("ev_session_setup"):
            return self._sequence_error("SessionSetup")
        return self._answer(evse_id=self.cfg.evse_id or f"US*EVSE*{self.cfg.id}",
                            session_id=self.session.session_id if self.session else "")

    def ev_authorization(self) -> Answer:
        self._heard_from_ev()
        if self.state == "negotiating":
            self.fire("ev_authorize")
        if self.state != "authorizing":
            return self._sequence_error("Authorization")
        return self._answer(processing=Processing.FINISHED if self.authorized else Processing.ONGOING)

    def ev_charge_parameter_discovery(self, ev: EvChargeParameters) -> Answer:
        self._heard_from_ev()
        if self.state not in ("authorizing", "parameter_discovery"):
            return self._sequence_error("ChargeParameterDiscovery")
        problem = _charge_parameter_problem(ev)
        if problem:
            return self._invalid("ChargeParameterDiscovery", problem)
        if self.state == "authorizing" and not self.fire("ev_charge_parameters"):
            return self._sequence_error("ChargeParameterDiscovery (not authorized)")
        self.ev_parameters = ev
        self.ev_soc = ev.soc_percent
        return self._answer(charge_parameters=self.evse_charge_parameters())

    @_power_path
    def ev_cable_check_request(self) -> Answer:
        self._heard_from_ev()
        if self.state == "parameter_discovery":
            self.fire("ev_cable_check")
        if self.state != "cable_check":
            return self._sequence_error("CableCheck")
        done = self.cable_check_passed()
        level = IsolationLevel.INVALID
        if done:
            level = IsolationLevel.WARNING if "ISOLATION_WARNING" in self.active_faults else IsolationLevel.VALID
        return self._answer(processing=Processing.FINISHED if done else Processing.ONGOING, isolation=level)

    @_power_path
    def ev_precharge_request(self, target_voltage_v: float, target_current_a: float) -> Answer:
        self._heard_from_ev()
        if self.state == "cable_check" and not self.fire("ev_precharge"):
            return self._answer(code=ResponseCode.FAILED_SEQUENCE_ERROR)
        if self.state != "precharge":
            return self._sequence_error("PreCharge")
        problem = _number_problem("EVTargetVoltage", target_voltage_v, self.voltage_limit_v()) \
            or _number_problem("EVTargetCurrent", target_current_a)
        if problem or not self.apply_precharge(target_voltage_v, target_current_a):
            return self._invalid("PreCharge", problem or f"EVTargetVoltage {target_voltage_v} V refused")
        return self._answer()

    @_power_path
    def ev_power_delivery(self, start: bool) -> Answer:
        self._heard_from_ev()
        if start:
            if self.state == "precharge" and self.no_blocking_faults() and not self.precharge_reached():
                target = self._precharge_target_v
                self.raise_fault("PRECHARGE_FAILED", f"PowerDelivery(start) at {self.present_voltage():.0f} V, "
                                                     f"EV target {target if target is not None else 'none'} V")
                return self._answer(code=ResponseCode.FAILED)
            if not self.fire("ev_power_delivery_start"):
                return self._sequence_error("PowerDelivery(start)")
        elif self.state in ("charging", "precharge", "cable_check"):
            self.note_stop_reason("user_stop" if self.stop_requested_t else "ev_stop")
            self.fire("ev_power_delivery_stop")
        elif self.state not in ("stopping", "welding_detection", "error_shutdown", "session_end"):
            return self._sequence_error("PowerDelivery(stop)")
        return self._answer()

    @_power_path
    def ev_current_demand(self, demand: CurrentDemand) -> Answer:
        self._heard_from_ev()
        if self.state != "charging":
            if self.state in ("stopping", "error_shutdown", "emergency"):
                return self._answer()
            return self._sequence_error("CurrentDemand")
        problem = _demand_problem(demand)
        if problem:
            self.hold_current_at_zero()
            return self._invalid("CurrentDemand", problem)
        if demand.soc_percent is not None:
            self.ev_soc = demand.soc_percent
        self.demand = demand
        flags = self.apply_current_demand(demand)
        return self._answer(**flags)

    def ev_welding_detection(self) -> Answer:
        self._heard_from_ev()
        if self.state not in ("stopping", "welding_detection", "session_end", "error_shutdown"):
            return self._sequence_error("WeldingDetection")
        return self._answer()

    @_power_path
    def ev_stop_session(self) -> Answer:
        self._heard_from_ev()
        if self.state in ("session_end", "emergency", "error_shutdown"):
            return self._answer()
        if self.state in ("charging", "precharge", "cable_check"):
            # SessionStop without PowerDelivery(stop): take the power down first
            self.note_stop_reason("ev_stop")
            self.fire("ev_power_delivery_stop")
        if self.state == "stopping":
            self.finish_after_stop = True
            return self._answer()
        self.note_stop_reason("ev_stop")
        if not self.fire("ev_session_stop"):
            return self._sequence_error("SessionStop")
        return self._answer()

    # ---- answers -------------------------------------------------------------------------------------
    def evse_charge_parameters(self) -> EvseChargeParameters:
        caps = self.group.capabilities
        return EvseChargeParameters(
            max_voltage_v=min(self.cfg.max_voltage_v, caps.max_voltage_v),
            max_current_a=min(self.cfg.max_current_a, caps.max_current_a),
            max_power_w=self.power_limit_w(),
            min_voltage_v=caps.min_voltage_v,
            min_current_a=0.0,
            current_regulation_tolerance_a=5.0,
            peak_current_ripple_a=5.0,
        )

    def evse_status(self, isolation: IsolationLevel | None = None) -> EvseStatus:
        notification = EvseNotification.NONE
        severities = {f.severity for f in self.active_faults.values()}
        if self.state == "emergency" or "emergency" in severities:
            code = EvseStatusCode.EMERGENCY_SHUTDOWN
            notification = EvseNotification.STOP_CHARGING
        elif self.state == "error_shutdown" or "error" in severities or self.stop_requested_t is not None:
            code = EvseStatusCode.SHUTDOWN
            notification = EvseNotification.STOP_CHARGING
        elif self.state == "cable_check" and not self.cable_check_passed():
            code = EvseStatusCode.ISOLATION_MONITORING_ACTIVE  # Ongoing; at Finished cars require EVSE_Ready
        elif self.state in ("unavailable",):
            code = EvseStatusCode.NOT_READY
        else:
            code = EvseStatusCode.READY
        if isolation is None:  # a warning stays a warning for the car, not Valid
            isolation = IsolationLevel.INVALID
            if self.state in ("precharge", "charging"):
                isolation = IsolationLevel.WARNING if "ISOLATION_WARNING" in self.active_faults \
                    else IsolationLevel.VALID
        return EvseStatus(code, notification, isolation)

    def _answer(self, code: ResponseCode = ResponseCode.OK, isolation: IsolationLevel | None = None,
                **values) -> Answer:
        if self.state == "emergency" and code == ResponseCode.OK:
            code = ResponseCode.FAILED
        status = self.evse_status(isolation)
        if status.notification == EvseNotification.STOP_CHARGING:
            self.note_car_told()  # an error shutdown may open the contactors once the car has heard this
        return Answer(code=code, status=status,
                      present_voltage_v=round(self.present_voltage(), 1),
                      present_current_a=round(max(0.0, self.group.output_current_a), 1), **values)

    def _invalid(self, request: str, problem: str) -> Answer:
        """A value the car must not send: recorded (a warning), answered FAILED_WrongChargeParameter."""
        self.raise_fault("EV_REQUEST_INVALID", f"{request}: {problem}")
        return self._answer(code=ResponseCode.FAILED_WRONG_CHARGE_PARAMETER)

    def _sequence_error(self, request: str) -> Answer:
        if self.blocking_faults():  # the session already failed: say so, not "wrong order"
            return self._answer(code=ResponseCode.FAILED)
        if self.state not in ("emergency", "error_shutdown", "session_end", "available", "unavailable"):
            self.raise_fault("EV_SEQUENCE_ERROR", f"{request} in state {self.state}")
        return self._answer(code=ResponseCode.FAILED_SEQUENCE_ERROR)

    def _heard_from_ev(self) -> None:
        self.last_ev_request_t = self.clock()

    def present_voltage(self) -> float:
        status = self.io.status
        if status is not None:
            return status.cable_voltage_v
        return self.group.output_voltage_v


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
