"""The faults the rig can make at the wires (`charger-hil run --inject KIND@PHASE`), one entry each.

Every kind acts on the rig's side only: the plant, a simulator or the car. It never touches the controller.
An entry says where it applies (the connector's phases), which fault code(s) the controller must raise for it,
and the reaction class that sets the time-to-safe bound the matrix holds it to:

  emergency  modules off and contactors open at once (bound: EMERGENCY_BOUND_S)
  error      stop through the protocol, current down, then open (bound: ERROR_BOUND_S)
  stop       not a fault: the car's own stop, which must still end safe (bound: STOP_BOUND_S)
  continue   a warning: charging may go on; only the code is checked

Bounds: IEC 61851-23 asks for the emergency paths well under a second (e.g. the voltage class limit within
9 ms, CP loss within 100 ms at the contactors); the figures here are generous because rig machines are noisy.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Callable

PHASES = ("cable-check", "precharge", "charging", "stopping")
# the connector's state names (controller/connector/table.py) and the car's phases use underscores
PHASE_STATES = {"cable-check": "cable_check", "precharge": "precharge", "charging": "charging",
                "stopping": "stopping"}
EMERGENCY_BOUND_S = 1.0
ERROR_BOUND_S = 3.0
STOP_BOUND_S = 1.0
BOUNDS_S = {"emergency": EMERGENCY_BOUND_S, "error": ERROR_BOUND_S, "stop": STOP_BOUND_S, "continue": None}
ALL = PHASES
ENERGIZED = ("cable-check", "precharge", "charging")
# DIN 70121 / ISO 15118-2: the car gives precharge 7 s (V2G_EVCC_PreCharge_Timeout), the charger's
# precharge_timeout_s; a fault that only keeps precharge from reaching the target is found by that timer
PRECHARGE_TIMER_BOUND_S = 8.0


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    phases: tuple[str, ...]
    codes: tuple[str, ...]  # any of these is the right code (empty: none required)
    reaction: str  # emergency, error, stop, continue
    apply: Callable  # (run, connector id, argument) -> None
    argument: str = ""  # e.g. "VOLTS"; empty: takes none
    default: float | None = None
    codes_in_phase: dict = field(default_factory=dict)  # phase -> codes, where a phase accepts others too
    in_service: bool = False  # the port must take a new session afterwards (a warning, not a blocking fault)
    release: Callable | None = None  # (run, connector id): after the rig saw the outcome, e.g. the car gives up
    bounds_in_phase: dict = field(default_factory=dict)  # phase -> bound (s) where a standard's timer sets it

    def expected_codes(self, phase: str) -> tuple[str, ...]:
        return self.codes_in_phase.get(phase, self.codes)

    def bound_s(self, phase: str) -> float | None:
        return self.bounds_in_phase.get(phase, BOUNDS_S[self.reaction])


def _modules(run, cid):
    return run.rig.module_models[cid]


def _overvoltage(run, cid, volts):
    for m in _modules(run, cid):
        m.voltage_offset_v = volts


def _overcurrent(run, cid, amps):
    modules = _modules(run, cid)
    for m in modules:
        m.current_offset_a = amps / len(modules)


def _sensor_stuck(run, cid, volts):
    run.rig.io_sims[cid].measure_stuck_v = volts


def _sensor_silent(run, cid, _):
    run.rig.io_sims[cid].measure_silent = True


def _temp_open(run, cid, _):
    board = run.rig.io_sims[cid]
    board.temperature_stuck_c = -50.0  # an open NTC reads below the range (DBC minimum)
    board.inject_temperature_c(0.0)  # the frame goes out now, not at the next 1 s period


def _temp_rising(run, cid, degrees_per_s):
    async def ramp():
        board, step_s, added = run.rig.io_sims[cid], 0.05, 0.0
        while added < 100.0:  # up to 125 degC: past the 90 degC trip, inside the sensor's plausible range
            board.inject_temperature_c(degrees_per_s * step_s)
            added += degrees_per_s * step_s
            await asyncio.sleep(step_s)
    run.background(ramp())


def _module_short(run, cid, _):
    _modules(run, cid)[0].short_circuit = True


def _module_lost(run, cid, _):
    module = _modules(run, cid)[0]
    module.silent = True
    module.on = False


def _board_lost(run, cid, _):
    run.rig.io_sims[cid].powered = False
    run.rig.io_sims[cid].tick()  # the coils drop with the board's supply, now


def _cp(state):
    def apply(run, cid, _):
        run.rig.plants[cid].ev_cp_state = state
    return apply


def _cp_line(state):
    def apply(run, cid, _):  # the line itself (a short, a broken oscillator): the car's resistor cannot undo it
        run.rig.io_sims[cid].cp_forced = state
    return apply


def _estop(run, cid, _):
    run.rig.io_sims[cid].press_estop()


def _isolation(run, cid, _):
    run.rig.plants[cid].isolation_ohm = 40e3


def _imd_invalid(run, cid, _):
    run.rig.imd_sims[cid].reading_invalid = True


def _imd_lost(run, cid, _):
    run.rig.imd_sims[cid].silent = True


def _meter_lost(run, cid, _):
    run.rig.meter_sims[cid].silent = True


def _lock_fail(run, cid, _):
    run.rig.io_sims[cid].lock_fault = True


def _weld(run, cid, _):
    run.rig.io_sims[cid].welded = True


def _negative_target(run, cid, volts):
    run.cars[cid].target_voltage_override_v = volts


def _ev_silent(run, cid, _):
    run.cars[cid].silent = True


def _ev_speaks(run, cid):
    run.cars[cid].silent = False


KINDS: dict[str, Kind] = {k.name: k for k in (
    # in precharge the target is the battery's voltage: VOLTS above it may stay below the car's maximum, then
    # precharge never reaches the target and its timer ends it
    Kind("output-overvoltage", "the modules hold their output VOLTS above the target", ENERGIZED,
         ("OUTPUT_OVERVOLTAGE", "VOLTAGE_CLASS_EXCEEDED", "IO_BOARD_OVERVOLTAGE_TRIP"), "error", _overvoltage,
         "VOLTS", 60.0, codes_in_phase={"precharge": ("OUTPUT_OVERVOLTAGE", "VOLTAGE_CLASS_EXCEEDED",
                                                      "IO_BOARD_OVERVOLTAGE_TRIP", "PRECHARGE_FAILED")},
         bounds_in_phase={"precharge": PRECHARGE_TIMER_BOUND_S}),
    Kind("output-overcurrent", "the modules deliver AMPS above their current limit", ("charging",),
         ("OUTPUT_OVERCURRENT",), "error", _overcurrent, "AMPS", 60.0),
    Kind("voltage-sensor-stuck", "the I/O board's DC voltage reads VOLTS whatever the cable has", ENERGIZED,
         ("VOLTAGE_MEASUREMENT_MISMATCH",), "error", _sensor_stuck, "VOLTS", 0.0,
         codes_in_phase={"cable-check": ("VOLTAGE_MEASUREMENT_MISMATCH", "CABLE_CHECK_FAILED"),
                         "precharge": ("VOLTAGE_MEASUREMENT_MISMATCH", "PRECHARGE_FAILED")}),
    Kind("voltage-sensor-silent", "the I/O board's DC measure frames stop", ALL,
         ("VOLTAGE_MEASUREMENT_STALE",), "error", _sensor_silent),
    Kind("temp-sensor-open", "every connector temperature reads an open sensor (-50 degC)", ALL,
         ("TEMPERATURE_SENSOR_FAULT",), "error", _temp_open),
    Kind("temp-rising", "the pin and cable temperatures rise by DEG_PER_S (up to +100 degC)", ENERGIZED,
         ("CONNECTOR_OVERTEMPERATURE",), "error", _temp_rising, "DEG_PER_S", 100.0),
    Kind("module-short", "a module of the group reports an output short (InfyPower flag)", ALL,
         ("MODULE_SHORT_CIRCUIT",), "emergency", _module_short),
    Kind("module-lost", "a module of the group stops answering and switches off", ENERGIZED,
         ("MODULE_LOST",), "continue", _module_lost, in_service=True),
    Kind("io-board-lost", "the I/O board loses its supply: no frames, contactors drop open", ALL,
         ("IO_BOARD_LOST",), "emergency", _board_lost),
    Kind("cp-b", "the car goes from C to B (it wants to stop)", ENERGIZED, (), "stop", _cp("B"),
         in_service=True),
    Kind("cp-e", "the CP line is shorted to earth (state E)", ALL, ("CP_STATE_E",), "emergency", _cp_line("E")),
    Kind("cp-f", "the CP line shows state F (-12 V) that the charger did not ask for", ALL,
         ("CP_STATE_F",), "emergency", _cp_line("F")),
    Kind("estop", "the cabinet's emergency stop is pressed", ALL, ("ESTOP_PRESSED",), "emergency", _estop),
    Kind("imd-alarm", "the cable's insulation drops to 40 kOhm (IMD alarm)", ENERGIZED,
         ("ISOLATION_FAULT",), "emergency", _isolation),
    Kind("imd-invalid", "the IMD's resistance channel reads invalid", ENERGIZED, ("IMD_INVALID",), "error",
         _imd_invalid, codes_in_phase={"cable-check": ("IMD_INVALID", "CABLE_CHECK_FAILED")}),
    Kind("imd-lost", "the IMD stops answering on Modbus", ENERGIZED, ("IMD_LOST",), "error", _imd_lost),
    Kind("meter-lost", "the energy meter stops answering on Modbus", ENERGIZED, ("METER_LOST",), "error",
         _meter_lost),
    Kind("lock-fail", "the connector lock's feedback reports FAULT", ENERGIZED,
         ("CONNECTOR_LOCK_FAILURE",), "error", _lock_fail),
    Kind("contactor-weld", "the DC contactors stay closed when released", ("stopping",),
         ("CONTACTOR_WELDED",), "emergency", _weld),
    Kind("ev-negative-target", "the car asks for a target voltage of VOLTS (negative)", ("precharge", "charging"),
         ("EV_REQUEST_INVALID",), "stop", _negative_target, "VOLTS", -400.0, in_service=True),
    Kind("ev-silent", "the car stops sending requests", ("precharge", "charging"), ("EV_TIMEOUT",), "error",
         _ev_silent, release=_ev_speaks, codes_in_phase={"precharge": ("EV_TIMEOUT", "PRECHARGE_FAILED")},
         bounds_in_phase={"precharge": PRECHARGE_TIMER_BOUND_S}),
)}


def listing() -> list[str]:
    """`charger-hil inject-list`: each kind, its argument, the phases it applies to, the code(s) expected."""
    lines = [f"{'KIND[:ARG]':<32} {'PHASES':<40} {'REACTION':<10} EXPECTED CODE(S)"]
    for kind in KINDS.values():
        name = kind.name + (f"[:{kind.argument}={kind.default:g}]" if kind.argument else "")
        codes = " or ".join(kind.codes) or "none (must still end safe)"
        extra = "; ".join(f"{phase}: also {' or '.join(c for c in codes_ if c not in kind.codes)}"
                          for phase, codes_ in kind.codes_in_phase.items())
        lines.append(f"{name:<32} {','.join(kind.phases):<40} {kind.reaction:<10} {codes}"
                     + (f" ({extra})" if extra else ""))
        lines.append(f"{'':<32} {kind.description}")
    lines.append("PHASE: " + ", ".join(PHASES) + "; KIND@PHASE+SECONDS injects SECONDS after the phase began")
    return lines
