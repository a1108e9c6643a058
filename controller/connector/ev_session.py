"""The connector's EV-session interface: the calls the SECC makes while a car charges.

Each call answers at once (no awaiting hardware): a phase that takes time answers
`Processing.ONGOING` and the car repeats its request, as DIN SPEC 70121 and ISO 15118-2 do.
The stand-in EV link (controller/evlink.py) and later the SECC map messages onto these calls.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class ResponseCode(str, Enum):
    OK = "OK"
    FAILED = "FAILED"
    FAILED_SEQUENCE_ERROR = "FAILED_SequenceError"
    FAILED_WRONG_CHARGE_PARAMETER = "FAILED_WrongChargeParameter"


class Processing(str, Enum):
    FINISHED = "Finished"
    ONGOING = "Ongoing"


class EvseStatusCode(str, Enum):
    NOT_READY = "EVSE_NotReady"
    READY = "EVSE_Ready"
    SHUTDOWN = "EVSE_Shutdown"
    ISOLATION_MONITORING_ACTIVE = "EVSE_IsolationMonitoringActive"
    EMERGENCY_SHUTDOWN = "EVSE_EmergencyShutdown"
    MALFUNCTION = "EVSE_Malfunction"


class EvseNotification(str, Enum):
    NONE = "None"
    STOP_CHARGING = "StopCharging"


class IsolationLevel(str, Enum):
    INVALID = "Invalid"
    VALID = "Valid"
    WARNING = "Warning"
    FAULT = "Fault"


@dataclass(frozen=True)
class EvseStatus:
    status_code: EvseStatusCode
    notification: EvseNotification
    isolation: IsolationLevel


@dataclass(frozen=True)
class EvChargeParameters:
    max_voltage_v: float
    max_current_a: float
    max_power_w: float | None = None
    soc_percent: float | None = None
    energy_capacity_wh: float | None = None
    energy_request_wh: float | None = None


@dataclass(frozen=True)
class EvseChargeParameters:
    max_voltage_v: float
    max_current_a: float
    max_power_w: float
    min_voltage_v: float
    min_current_a: float
    current_regulation_tolerance_a: float
    peak_current_ripple_a: float
    # the operator's schedule from now (OCPP smart charging): (seconds from now, W) ascending from 0; empty: none
    power_schedule: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class CurrentDemand:
    target_voltage_v: float
    target_current_a: float
    soc_percent: float | None = None
    charging_complete: bool = False
    max_voltage_v: float | None = None
    max_current_a: float | None = None
    max_power_w: float | None = None


@dataclass(frozen=True)
class Answer:
    """What every call returns: the response code, the EVSE status, and call-specific values."""
    code: ResponseCode
    status: EvseStatus
    processing: Processing = Processing.FINISHED
    present_voltage_v: float = 0.0
    present_current_a: float = 0.0
    current_limit_reached: bool = False
    voltage_limit_reached: bool = False
    power_limit_reached: bool = False
    evse_id: str = ""
    session_id: str = ""
    charge_parameters: EvseChargeParameters | None = None

    def to_json(self) -> dict:
        out = asdict(self)
        out["code"] = self.code.value
        out["processing"] = self.processing.value
        out["status"] = {
            "status_code": self.status.status_code.value,
            "notification": self.status.notification.value,
            "isolation": self.status.isolation.value,
        }
        return out
