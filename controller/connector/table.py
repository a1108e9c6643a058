"""States and transitions of one charging connector, declared together in one table.

Triggers named `ev_*` come from the car through the EV-session interface; `cp_*` from control-pilot
changes reported by the I/O board; the others from the connector's own control loop, faults and the
technician. Conditions and actions are small methods on `Connector`. Triggers go through `Connector.fire`,
which logs one that does not fit the present state (the machine itself raises on it).
"""
from __future__ import annotations

STATES = [
    "unavailable",        # no I/O board yet, disabled for maintenance, or a latched fault waits for a technician
    "available",          # CP A: no car
    "plugged",            # CP B: car connected, PWM 5 %, waiting for the car's SessionSetup
    "negotiating",        # session set up; service and payment selection
    "authorizing",        # waiting for an authorization (console, auto-authorize or allow-list)
    "parameter_discovery",
    "cable_check",
    "precharge",
    "charging",
    "stopping",           # current down, modules off, contactors open
    "welding_detection",  # contactors open; the car checks for welded contacts
    "session_end",        # session closed; the car may unplug or start again
    "error_shutdown",     # an error fault: stop through the protocol, ramp down, then open
    "emergency",          # an emergency fault: everything off at once, CP F
]

SESSION_STATES = [
    "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge",
    "charging", "stopping", "welding_detection",
]
POWERED_STATES = ["cable_check", "precharge", "charging", "stopping", "error_shutdown"]
PLUGGED_STATES = ["plugged", "session_end", *SESSION_STATES, "error_shutdown"]

TRANSITIONS = [
    # trigger                   source                                  dest                   conditions / unless
    dict(trigger="board_ready", source="unavailable", dest="available", conditions=["can_offer_service", "cp_is_a"]),
    dict(trigger="board_ready", source="unavailable", dest="plugged", conditions=["can_offer_service", "cp_is_connected"]),
    dict(trigger="disable", source=["available", "plugged", "session_end"], dest="unavailable"),
    dict(trigger="service_lost", source="available", dest="unavailable"),  # a blocking fault with no car
    dict(trigger="cp_plugged", source="available", dest="plugged"),
    dict(trigger="cp_unplugged", source=[*PLUGGED_STATES, "available"], dest="available", conditions="can_offer_service"),
    dict(trigger="cp_unplugged", source=[*PLUGGED_STATES, "available"], dest="unavailable"),
    dict(trigger="ev_session_setup", source=["plugged", "session_end"], dest="negotiating", conditions="no_blocking_faults"),
    dict(trigger="ev_authorize", source="negotiating", dest="authorizing"),
    dict(trigger="ev_charge_parameters", source="authorizing", dest="parameter_discovery", conditions="is_authorized"),
    dict(trigger="ev_cable_check", source="parameter_discovery", dest="cable_check", conditions="no_blocking_faults"),
    dict(trigger="ev_precharge", source="cable_check", dest="precharge", conditions=["cable_check_passed", "no_blocking_faults"]),
    dict(trigger="ev_power_delivery_start", source="precharge", dest="charging", conditions=["no_blocking_faults", "precharge_reached"]),
    dict(trigger="ev_power_delivery_stop", source=["charging", "precharge", "cable_check"], dest="stopping"),
    dict(trigger="cp_left_c", source=["charging", "precharge", "cable_check"], dest="stopping"),  # C->B: stop
    dict(trigger="output_safe", source="stopping", dest="welding_detection"),
    dict(trigger="output_safe", source="error_shutdown", dest="session_end"),
    dict(trigger="ev_session_stop", source=[*SESSION_STATES, "plugged"], dest="session_end"),
    dict(trigger="error", source=[*SESSION_STATES, "plugged", "session_end"], dest="error_shutdown"),
    dict(trigger="emergency", source="*", dest="emergency"),
    dict(trigger="recover", source="emergency", dest="available", conditions=["can_offer_service", "cp_is_a"]),
    dict(trigger="recover", source="emergency", dest="plugged", conditions=["can_offer_service", "cp_is_connected"]),
    dict(trigger="recover", source="emergency", dest="unavailable", unless="can_offer_service"),
    dict(trigger="enable", source="unavailable", dest="available", conditions=["can_offer_service", "cp_is_a"]),
    dict(trigger="enable", source="unavailable", dest="plugged", conditions=["can_offer_service", "cp_is_connected"]),
]
