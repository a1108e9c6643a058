"""Scenarios: what the car and the rig do, and how the session must end.

Each scenario is a plan for the car, an optional fault injection once the car is charging, and the
expected result. The runner (hil/runner.py) judges the end through what is on the wires and in the
controller's events.
"""
from __future__ import annotations

from dataclasses import dataclass, field

@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    expect_result: str  # "ok" or "fault"
    expect_faults: tuple[str, ...] = ()
    plan: dict = field(default_factory=dict)  # CarPlan overrides
    inject_after_charging_s: float | None = None
    inject: str | None = None  # name of a runner action
    inject_before_plug: bool = False  # inject before the car plugs in instead of while charging
    settle_s: float = 0.5  # how long to watch after the car is done
    needs_inprocess: bool = False


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("dc-session", "plug, charge to the target SoC, stop, unplug", "ok"),
    Scenario("user-stop", "the charger is asked to stop while charging; the car ends the session", "ok",
             inject_after_charging_s=1.5, inject="user_stop", needs_inprocess=True),
    Scenario("ev-stop", "the car stops charging before its target SoC", "ok",
             plan={"stop_after_charging_s": 1.5}),
    Scenario("estop", "the emergency stop is pressed while charging", "fault", ("ESTOP_PRESSED",),
             inject_after_charging_s=0.5, inject="press_estop"),
    Scenario("module-lost", "a power module dies while charging; the rest share the current", "ok",
             ("MODULE_LOST",), inject_after_charging_s=0.3, inject="kill_module", settle_s=0.5),
    Scenario("module-overvoltage", "a power module's output goes over-voltage while charging", "fault",
             ("MODULE_OVERVOLTAGE",), inject_after_charging_s=0.5, inject="module_overvoltage"),
    Scenario("heartbeat-lost", "the controller stops sending; the I/O board opens the contactors itself",
             "fault", ("IO_WATCHDOG_TRIPPED",), inject_after_charging_s=0.5, inject="crash_controller",
             settle_s=2.0),
    Scenario("isolation-fault", "the cable's insulation is bad: the cable check fails, no charging current",
             "fault", ("ISOLATION_FAULT",), inject="low_insulation", inject_before_plug=True),
    Scenario("isolation-drop", "the insulation drops while charging: emergency shutdown", "fault",
             ("ISOLATION_FAULT",), inject_after_charging_s=0.5, inject="low_insulation"),
    Scenario("meter-lost", "the energy meter stops answering while charging: error shutdown", "fault",
             ("METER_LOST",), inject_after_charging_s=0.5, inject="silence_meter"),
    Scenario("imd-selftest-fail", "the insulation monitor fails its self-test in the cable check", "fault",
             ("IMD_SELFTEST_FAILED",), inject="fail_imd_selftest", inject_before_plug=True),
    Scenario("unplug-charging", "the cable is pulled out while charging", "fault", ("UNPLUGGED_UNDER_LOAD",),
             plan={"unplug_after_charging_s": 0.5}),
)}
