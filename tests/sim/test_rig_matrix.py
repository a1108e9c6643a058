"""The rig with a matrix cabinet (nevi-shared): the matrix board simulator is built on the cabinet's bus, a
closed contact moves the group's modules into that output's plant, and the report's count of contacts
switched under load fails the verdict."""
from __future__ import annotations

import pytest

from hil.rig import Rig
from hil.scenarios import Scenario
from hil.setup import load_setup
from hil.verdict import judge

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def rig():
    built = Rig(load_setup("nevi-shared"))
    yield built
    for port in built.ports.values():
        port.close()


def test_a_matrix_cabinet_starts_with_every_group_open_and_no_modules_on_any_output(rig):
    assert rig.matrix_sim is not None and rig.matrix_sim.groups == 8
    assert all(plant.modules == [] for plant in rig.plants.values())
    assert sorted(m.address for m in rig.module_sim.models) == list(range(1, 25))  # every module answers on CAN


def test_a_closed_contact_puts_the_groups_modules_on_that_output_and_an_open_one_takes_them_off(rig):
    sim = rig.matrix_sim
    sim.contact_delay_s = 0.0
    sim._wanted[2], sim._due[2] = 4, 0.0  # as an accepted command would (the protocol is tested on its own)
    sim.settle()
    assert [m.address for m in rig.plants[4].modules] == [7, 8, 9]
    rig.plants[4].modules[0].output_current_a = 3.0  # the group carries current: opening now is under load
    sim._wanted[2], sim._due[2] = 0, 0.0
    sim.settle()
    assert rig.plants[4].modules == [] and sim.under_load_count == 1
    assert sim.report()["matrix_switched_under_load"] == 1


def test_the_report_says_the_most_voltage_a_contact_closed_across(rig):
    sim = rig.matrix_sim
    sim.contact_delay_s = 0.0
    rig.plants[4].link_voltage_v = 700.0
    for model in rig.matrix_circuit.modules_of(2):
        model.output_voltage_v = 712.5  # 12.5 V below the bound: not under load, but a figure to watch
    sim._wanted[2], sim._due[2] = 4, 0.0
    sim.settle()
    assert sim.under_load_count == 0 and sim.report()["matrix_worst_close_v"] == 12.5


def test_a_contact_switched_under_load_fails_the_verdict():
    scenario = Scenario("x", "", expect_result="ok")
    report = {"result": "ok", "faults": [], "controller_events": True, "connectors": [],
              "matrix": {"matrix_switched_under_load": 2, "matrix_switchings": 5}}
    assert judge(scenario, report) == ["2 power matrix contacts switched under load"]
    report["matrix"]["matrix_switched_under_load"] = 0
    assert judge(scenario, report) == []


def test_a_group_on_no_output_switched_on_slews_to_its_reference_and_one_switched_off_decays(rig):
    circuit = rig.matrix_circuit
    group = circuit.groups[1]
    for m in group:
        m.on, m.voltage_ref_v, m.output_current_a = True, 700.0, 5.0
    for _ in range(50):
        circuit.step_open(0.01)
    assert all(m.output_voltage_v == pytest.approx(700.0) and m.output_current_a == 0.0 for m in group)
    for m in group:
        m.on = False
    circuit.step_open(0.01)
    assert all(m.output_voltage_v < 700.0 for m in group)
    rig.plants[2].modules.extend(circuit.groups[2])  # on an output: its plant steps it, not step_open
    before = [m.output_voltage_v for m in circuit.groups[2]]
    for m in circuit.groups[2]:
        m.on, m.voltage_ref_v = True, 500.0
    circuit.step_open(0.01)
    assert [m.output_voltage_v for m in circuit.groups[2]] == before


def test_a_matrix_ports_module_models_are_the_modules_on_its_output_now(rig):
    sim = rig.matrix_sim
    sim.contact_delay_s = 0.0
    sim._wanted[0], sim._due[0] = 2, 0.0
    sim.settle()
    assert [m.address for m in rig.module_models[2]] == [1, 2, 3]  # what fault injection picks from
    sim._wanted[0], sim._due[0] = 0, 0.0
    sim.settle()
    assert rig.module_models[2] == []


def test_a_switched_off_group_opened_from_a_live_output_at_no_current_is_not_under_load(rig):
    """Its modules' own stage decays once they are off (or timed out in a stall), but across a closed contact
    there is no voltage: both sides are the output's node. Before, the rig counted 390 V "across" an opening at
    0 A (fourth-car-arrives under a 0.6 s stall) and failed the run."""
    sim = rig.matrix_sim
    sim.contact_delay_s = 0.0
    sim._wanted[2], sim._due[2] = 4, 0.0
    sim.settle()
    rig.plants[4].link_voltage_v = 390.0  # the car's battery holds the output
    for model in rig.matrix_circuit.modules_of(2):
        model.on, model.output_voltage_v, model.output_current_a = False, 0.0, 0.0
    assert rig.matrix_circuit.group_voltage_v(2) == 390.0
    sim._wanted[2], sim._due[2] = 0, 0.0
    sim.settle()
    assert rig.plants[4].modules == [] and sim.under_load_count == 0
    assert rig.matrix_circuit.group_voltage_v(2) == 0.0  # open again: its own modules' voltage
