"""What the car reads in a decoded DIN / ISO-2 response (the message types themselves, no translation).

The DC EVSE status sits in the response, or inside the charge parameter of a ChargeParameterDiscoveryRes;
responses without one (SessionSetup, Authorization, ...) read as a ready EVSE, as a car treats them.
"""
from __future__ import annotations

from typing import Any

from controller.formats.v2g.physical_value import to_float

HALTING = ("EVSE_EmergencyShutdown", "EVSE_Malfunction")


def accepted(response: Any) -> bool:
    """OK, OK_NewSessionEstablished, OK_OldSessionJoined, ...: every positive code starts with OK."""
    return response.ResponseCode.value.startswith("OK")


def evse_status(response: Any) -> Any:
    status = getattr(response, "DC_EVSEStatus", None)
    parameter = getattr(response, "DC_EVSEChargeParameter", None)
    if status is None and parameter is not None:
        status = parameter.DC_EVSEStatus
    return status


def status_code(response: Any) -> str:
    status = evse_status(response)
    return status.EVSEStatusCode.value if status is not None else "EVSE_Ready"


def notification(response: Any) -> str:
    status = evse_status(response)
    return status.EVSENotification.value if status is not None else "None"


def finished(response: Any) -> bool:
    """EVSEProcessing Finished (a response without the field has nothing left to do)."""
    processing = getattr(response, "EVSEProcessing", None)
    return processing is None or processing.value == "Finished"


def present_voltage_v(response: Any) -> float:
    return to_float(getattr(response, "EVSEPresentVoltage", None)) or 0.0
