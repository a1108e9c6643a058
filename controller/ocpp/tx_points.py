"""TxStartPoint / TxStopPoint (OCPP 2.0.1 TxCtrlr, E01-E02): when a transaction begins and ends.

Each point is a condition on the connector: EVConnected (a car is plugged in), Authorized (the driver or the
CSMS authorized it, and nobody has asked to stop since), PowerPathClosed (the DC output is connected to the
car: cable check, pre-charge, charging, ramping down) and EnergyTransfer (charging). Each implies the one
before, apart from Authorized, which can come before or after the power path in DC.

The rules (the spec's, for lists of points): a transaction starts when the first of its start points becomes
true; it ends when the first of its stop points is no longer true. A stop point ends it only once it has been
true in this transaction (a car unplugged before it was authorized still ends an Authorized-stop
transaction: no point holds without a car). After an end while the car is still plugged in, a new
transaction starts only once its start points have all gone false and one holds again (EVConnected: the
next plug-in; EnergyTransfer: charging that resumes after a pause).
"""
from __future__ import annotations

from typing import Any

POINTS = ("EVConnected", "Authorized", "PowerPathClosed", "EnergyTransfer")  # ParkingBayOccupancy: no sensor
PLUGGED = {"plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge", "charging",
           "stopping", "welding_detection", "session_end", "error_shutdown", "emergency"}
POWER_PATH_CLOSED = {"cable_check", "precharge", "charging", "stopping"}
STOPPED_BY_DRIVER = {"remote", "user_stop", "console_stop"}  # a stop asked for ends the authorization
START_TRIGGER = {"EVConnected": "CablePluggedIn", "Authorized": "Authorized",
                 "PowerPathClosed": "ChargingStateChanged", "EnergyTransfer": "ChargingStateChanged"}


def parse_points(text: str) -> tuple[str, ...]:
    """A TxStartPoint / TxStopPoint value: the known points it names, in POINTS order."""
    named = {part.strip() for part in text.split(",")}
    return tuple(point for point in POINTS if point in named)


def car_plugged(connector: Any) -> bool:
    """A car is at the connector: a session state, and the pilot does not say unplugged (a latched emergency
    keeps the connector's state after the car has gone)."""
    return connector.state in PLUGGED and getattr(connector, "cp_state", "B") != "A"


def conditions(connector: Any, remote_stop: bool = False) -> dict[str, bool]:
    """Which points hold for the connector now."""
    state = connector.state
    plugged = car_plugged(connector)
    session = getattr(connector, "session", None)
    stop_asked = remote_stop or (session is not None and session.stop_reason in STOPPED_BY_DRIVER)
    return {"EVConnected": plugged,
            "Authorized": plugged and connector.is_authorized() and not stop_asked,
            "PowerPathClosed": state in POWER_PATH_CLOSED,
            "EnergyTransfer": state == "charging"}


def start_trigger(points: tuple[str, ...], held: dict[str, bool], remote: bool) -> str | None:
    """The triggerReason of the Started event when a start point holds (None: not yet). An emergency
    state never starts a transaction."""
    for point in points:
        if held[point]:
            return "RemoteStart" if point == "Authorized" and remote else START_TRIGGER[point]
    return None


def stop_trigger(points: tuple[str, ...], held: dict[str, bool], seen: set[str], state: str,
                 remote_stop: bool) -> str | None:
    """The triggerReason of the Ended event when a stop point no longer holds (None: it goes on)."""
    if not held["EVConnected"]:  # nothing holds without a car, whatever the list
        return "RemoteStop" if remote_stop else "EVDeparted"
    for point in points:
        if point in seen and not held[point]:
            if remote_stop:
                return "RemoteStop"
            if point == "Authorized":
                return "StopAuthorized"
            return "AbnormalCondition" if state in ("error_shutdown", "emergency") else "ChargingStateChanged"
    return None
