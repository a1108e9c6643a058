"""DeviceDataCtrlr and ClockCtrlr of the device model (OCPP 2.0.1 block B).

DeviceDataCtrlr: ItemsPerMessage and BytesPerMessage, one instance per request they bound (GetVariables,
SetVariables, GetReport). A request with more items, or a bigger frame, is answered with a CALLERROR before
any of it is read or applied: OccurrenceConstraintViolation for the items (B06.FR.16 and its SetVariables and
GetReport twins), FormatViolation for the bytes, as the spec allows. Read-only: they are what this station
handles, not settings.

ClockCtrlr: DateTime is the station's clock now (read-only: a SetVariables of it is Rejected, B05). The
controller takes its time from the host's clock, which the host keeps (NTP where it has a network, its real-
time clock otherwise); the controller never sets that clock, so TimeSource says so and is read-only too.
"""
from __future__ import annotations

from typing import Any, Callable

from ocpp.exceptions import FormatViolationError, OccurrenceConstraintViolationError, OCPPError

from controller.ocpp.transactions import timestamp

RO = "ReadOnly"
DEVICE_DATA, CLOCK = "DeviceDataCtrlr", "ClockCtrlr"
# the list each bounded request carries its items in
ITEM_LISTS = {"GetVariables": "getVariableData", "SetVariables": "setVariableData", "GetReport": "componentVariable"}
ITEMS_PER_MESSAGE = 200  # the whole catalogue of a four-EVSE station is about 80 variables
BYTES_PER_MESSAGE = 65_536  # the link itself refuses frames above 1 MiB (controller/ocpp/link.py)
TIME_SOURCE = "NTP,RealTimeClock"  # the host's, in its order
TIME_SOURCES = "Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork,RadioTimeTransmitter"


def device_data_variables() -> list[tuple[Any, str]]:
    """(Variable, default) entries of DeviceDataCtrlr and ClockCtrlr for the device model's catalogue."""
    from controller.ocpp.device_model import Variable  # device_model imports this module

    entries: list[tuple[Any, str]] = []
    for action in ITEM_LISTS:
        entries += [(Variable(DEVICE_DATA, "ItemsPerMessage", "integer", RO, instance=action), str(ITEMS_PER_MESSAGE)),
                    (Variable(DEVICE_DATA, "BytesPerMessage", "integer", RO, instance=action), str(BYTES_PER_MESSAGE))]
    entries += [(Variable(CLOCK, "DateTime", "dateTime", RO), ""),  # its value is the clock's (watch_clock)
                (Variable(CLOCK, "TimeSource", "SequenceList", RO, values_list=TIME_SOURCES), TIME_SOURCE)]
    return entries


def watch_clock(device_model: Any, clock: Callable[[], float]) -> None:
    """ClockCtrlr.DateTime reads the service's clock at each GetVariables / report."""
    device_model.live[(CLOCK, "DateTime")] = lambda: timestamp(clock())


def limit_error(device_model: Any, action: Any, payload: Any, frame: str | bytes) -> OCPPError | None:
    """The CALLERROR for a CALL beyond DeviceDataCtrlr's limits, or None."""
    if action not in ITEM_LISTS:
        return None
    size = len(frame.encode("utf-8")) if isinstance(frame, str) else len(frame)
    most = device_model.number(DEVICE_DATA, "BytesPerMessage", action)
    if size > most:
        return FormatViolationError(description=f"{action} of {size} bytes; BytesPerMessage is {most:.0f}")
    items = payload.get(ITEM_LISTS[action]) if isinstance(payload, dict) else None
    most = device_model.number(DEVICE_DATA, "ItemsPerMessage", action)
    if isinstance(items, list) and len(items) > most:
        return OccurrenceConstraintViolationError(
            description=f"{action} with {len(items)} items; ItemsPerMessage is {most:.0f}")
    return None
