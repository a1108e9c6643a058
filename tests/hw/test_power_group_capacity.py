"""PowerModuleGroup's group faults and what it says, slot by slot on a fake clock (tests/hw/group_stepper.py):
GROUP_CAPACITY_LOST judged at the measured output voltage with its 2 % room and only while on, GROUP_LOST only
when no module can ever deliver (not before the modules were heard), raised once; the capabilities of a group
with nothing left; MODULE_FAULT per module with the flags named; the telemetry listener after voltage answers
only; the defaults and the construction errors. Issue 19: these kill mutants of controller/hw/power/group.py that
survived every other test."""
from __future__ import annotations

import logging

import pytest

from controller.hw.power import PowerModuleGroup
from controller.hw.power.group import GroupCapabilities
from tests.hw.group_stepper import ON_OFF, SET_OUTPUT, SteppedGroup, infy

pytestmark = pytest.mark.timeout(20)


def raised(g: SteppedGroup, code: str) -> list[bool]:
    return [active for c, _, active in g.faults if c == code]


def words(g: SteppedGroup, code: str) -> list[str]:
    return [detail for c, detail, _ in g.faults if c == code]


def at_output(g: SteppedGroup, volts: float) -> None:
    """Every module's output at `volts`, read by one period's polls and judged at the end of the period."""
    for model in g.models:
        model.output_voltage_v = volts
    g.slots(len(g.models) + 1)


# Each simulated module: 100 A, 30 kW. At 400 V a module gives 75 A (its power), at 200 V 100 A (its current).

def test_the_capacity_is_judged_at_the_measured_output_voltage_not_at_the_reference(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2, 3], telemetry_period_s=0.5)
    at_output(g, 200.0)  # 3 x 100 A available at 200 V
    g.group.set_output(400.0, 250.0)
    g.group.switch_on()
    assert raised(g, "GROUP_CAPACITY_LOST") == []
    at_output(g, 400.0)  # 3 x 75 A at 400 V: 250 A no longer fits
    assert raised(g, "GROUP_CAPACITY_LOST") == [True]
    assert words(g, "GROUP_CAPACITY_LOST") == [
        "group 1: 250.0 A commanded at 400 V, 225.0 A available from 3 healthy module(s)"]
    g.close()


@pytest.mark.parametrize("measured, lost", [
    (1.0, True),   # 1 V is no measurement yet (precharge not started): judged at the 400 V reference
    (1.5, False),  # above 1 V the measurement counts: 100 A per module
])
def test_a_measured_voltage_counts_only_above_one_volt(monkeypatch, measured, lost):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2, 3], telemetry_period_s=0.5)
    at_output(g, measured)
    g.group.set_output(400.0, 250.0)
    g.group.switch_on()
    assert raised(g, "GROUP_CAPACITY_LOST") == ([True] if lost else [])
    g.close()


@pytest.mark.parametrize("amps, lost", [(101.0, False), (102.0, False), (102.5, True)])
def test_the_capacity_has_two_percent_room(monkeypatch, amps, lost):
    g = SteppedGroup(monkeypatch, "infypower", [1], telemetry_period_s=0.5)
    g.slots(1)
    g.group.set_output(300.0, amps)
    g.group.switch_on()
    at_output(g, 300.0)  # 100 A available (30 kW at 300 V); 102 A is the bound itself
    assert raised(g, "GROUP_CAPACITY_LOST") == ([True] if lost else [])
    g.close()


def test_a_setpoint_beyond_the_capacity_is_no_fault_while_the_group_is_off(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5, silent_after_s=1.0)
    g.slots(2)
    g.group.set_output(400.0, 1000.0)
    g.slots(4)
    assert raised(g, "GROUP_CAPACITY_LOST") == []
    g.group.switch_on()
    assert raised(g, "GROUP_CAPACITY_LOST") == [True]
    g.group.switch_off()
    assert g.group.is_on is False
    assert raised(g, "GROUP_CAPACITY_LOST") == [True, False]
    for model in g.models:  # nothing left at all, still off: the group is lost, its capacity is no question
        model.silent = True
    g.slots(12, answer=False)
    assert raised(g, "GROUP_LOST") == [True]
    assert raised(g, "GROUP_CAPACITY_LOST") == [True, False]
    g.close()


def test_a_group_is_not_lost_before_its_modules_were_heard_and_is_lost_once_when_they_all_go(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5, silent_after_s=1.0)
    g.group.set_output(0.0, 0.0)  # judged before any module answered: unknown is not lost
    g.step()
    g.clock.advance(0.25)
    assert raised(g, "GROUP_LOST") == []
    g.wire.drop()
    g.slots(3)
    for model in g.models:
        model.silent = True
    g.slots(20, answer=False)
    assert raised(g, "GROUP_LOST") == [True]  # raised once, not again every period
    assert words(g, "GROUP_LOST") == ["group 1: no healthy module (0x01 lost, 0x02 lost)"]
    assert g.group.capabilities == GroupCapabilities(0.0, 0.0, 0.0, 0.0, 0, 2)
    g.close()


def test_a_group_whose_modules_all_report_over_voltage_is_lost(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    g.slots(4)
    for model in g.models:
        model.overvoltage = True
    g.slots(2)
    assert raised(g, "GROUP_LOST") == [True]
    assert words(g, "GROUP_LOST") == ["group 1: no healthy module (0x01 fault, 0x02 fault)"]
    g.close()


def test_a_module_fault_stays_raised_while_its_module_reports_it_and_names_its_flags(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    g.slots(4)
    g.models[0].overtemperature = True
    g.slots(4)  # module 2 keeps answering without a fault: module 1's fault stays
    assert raised(g, "MODULE_FAULT") == [True]
    assert words(g, "MODULE_FAULT") == ["module 0x01 reports OverTemperature"]
    g.models[0].overtemperature = False
    g.slots(2)
    assert raised(g, "MODULE_FAULT") == [True, False]
    assert words(g, "MODULE_FAULT")[1] == "module 0x01 reports no fault"
    g.close()


def test_several_fault_flags_are_named_together(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1], telemetry_period_s=0.5)
    g.slots(1)
    g.models[0].overtemperature = g.models[0].short_circuit = True
    g.slots(1)
    assert words(g, "MODULE_FAULT") == ["module 0x01 reports OutputShortCircuit, OverTemperature"]
    g.close()


def test_the_telemetry_listener_runs_after_each_voltage_answer_and_after_no_other(monkeypatch, caplog):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    with caplog.at_level(logging.ERROR):
        g.slots(4)  # no listener yet: nothing to call, nothing to complain about
    assert caplog.records == []
    calls = []
    g.group.listen_telemetry(lambda: calls.append(g.clock()))
    g.slots(4)  # eight slots: each polls one module once (one voltage answer; status and keep-alive answers too)
    assert calls == [1001.0, 1001.25, 1001.5, 1001.75]
    g.close()


def test_a_new_group_commands_nothing_until_it_is_given_a_setpoint(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    g.slots(4)
    assert g.group.setpoint == (0.0, 0.0)
    setpoints = [m for m in g.wire.from_controller if infy(m)[0] == SET_OUTPUT]
    assert setpoints, "the keep-alive sends each module its setpoint"
    assert [(m.voltage_ref_v, m.current_limit_a, m.on) for m in g.models] == [(0.0, 0.0, False)] * 2
    g.close()


def test_the_defaults_poll_every_200_ms_keep_alive_every_second_and_give_up_after_12_s(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2, 3, 4])
    g.slots(4)
    assert g.slept == [0.05] * 4
    g.models[3].silent = True
    keepalives = 0
    for _ in range(59):  # 59 periods of 0.2 s: 11.8 s
        period = [m for _ in range(4) for m in g.slot()]  # one telemetry period: a slot per module
        keepalives += any(infy(m) == (ON_OFF, 1) for m in period)
    # due 1 s after the last one, sent at the first period that starts then or later: every 1.0 or 1.2 s
    assert 9 <= keepalives <= 12
    assert raised(g, "MODULE_LOST") == []
    g.slots(8)
    assert raised(g, "MODULE_LOST") == [True]
    g.close()


@pytest.mark.parametrize("name", ["keepalive_s", "telemetry_period_s", "silent_after_s"])
def test_a_period_that_is_not_positive_is_refused_by_name(name):
    with pytest.raises(ValueError, match=rf"^{name} must be positive, got 0$"):
        PowerModuleGroup(None, "infypower", [1], 0, on_fault=lambda *a: None, **{name: 0})


def test_a_group_without_modules_is_refused():
    with pytest.raises(ValueError, match="^a module group needs at least one module address$"):
        PowerModuleGroup(None, "infypower", [], 0, on_fault=lambda *a: None)
