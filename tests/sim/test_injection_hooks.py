"""The simulators' fault-injection hooks (set by hil/injection) as the wires show them."""
from __future__ import annotations

import pytest

from hil.plant import ConnectorPlant, ModuleModel
from tests.sim.test_io_board_sim import MEASURE, STATUS, TEMPS, SimBench

pytestmark = pytest.mark.timeout(20)


def _closed_bench() -> SimBench:
    bench = SimBench(contactor_delay_s=0.0)
    bench.plant.ev_cp_state = "C"
    bench.command(duty=5.0, close=1, lock=1)
    bench.ticks(0.02)  # the board has sampled CP C
    assert bench.plant.dc_plus_closed and bench.plant.dc_minus_closed
    return bench


def test_silent_and_stuck_voltage_measure():
    bench = _closed_bench()
    bench.plant.cable_voltage_v = 400.0
    bench.frames(MEASURE)
    bench.sim.measure_stuck_v = 0.0
    bench.ticks(0.04)
    assert [round(f["CableVoltage"]) for f in bench.frames(MEASURE)] == [0, 0]
    bench.sim.measure_silent = True
    bench.ticks(0.1)
    assert bench.frames(MEASURE) == []
    bench.ticks(0.04)
    assert bench.frames(STATUS)  # the status goes on: only the measure is gone


def test_open_temperature_sensor_reads_below_the_range():
    bench = SimBench()
    bench.sim.temperature_stuck_c = -50.0
    bench.frames(TEMPS)
    bench.sim.inject_temperature_c(0.0)
    assert [round(v) for v in bench.frames(TEMPS)[-1].values()] == [-50, -50, -50]


def test_lock_fault_and_forced_cp_show_in_the_status():
    bench = _closed_bench()
    bench.sim.lock_fault = True
    assert bench.status()["LockState"] == "FAULT"
    bench.sim.cp_forced = "E"
    bench.ticks(0.02)  # the board samples the line: E is not C, it opens by itself
    status = bench.status()
    assert status["CpState"] == "E" and not bench.plant.dc_plus_closed


def test_dead_board_sends_nothing_hears_nothing_and_drops_its_contactors():
    bench = _closed_bench()
    bench.frames(STATUS)
    bench.sim.powered = False
    bench.ticks(0.1)
    assert not bench.plant.dc_plus_closed and not bench.plant.dc_minus_closed
    assert bench.frames(STATUS) == [] and bench.frames(MEASURE) == [] and bench.frames(TEMPS) == []
    received = bench.sim.commands_received
    bench.command(duty=5.0, close=0, lock=1)
    assert bench.sim.commands_received == received


def test_welded_contacts_stay_closed_while_the_coils_are_released():
    bench = _closed_bench()
    bench.sim.welded = True
    bench.command(duty=5.0, close=0, lock=1)
    assert not bench.sim.close_requested
    assert bench.plant.dc_plus_closed and bench.plant.dc_minus_closed
    assert bench.status()["DcPlusClosed"] == 1  # the auxiliary contact tells the truth


class _Battery:
    internal_resistance_ohm = 0.1

    def open_circuit_voltage(self) -> float:
        return 350.0

    def absorb(self, current_a: float, dt: float) -> None:
        pass


def _charging_plant(**module) -> ConnectorPlant:
    modules = [ModuleModel(address=1, on=True, voltage_ref_v=420.0, current_limit_a=50.0, **module)]
    plant = ConnectorPlant(connector_id=1, modules=modules, dc_plus_closed=True, dc_minus_closed=True,
                           ev_cp_state="C", ev_contactor_closed=True, battery=_Battery())
    for _ in range(100):
        plant.step(0.01)
    return plant


def test_regulation_faults_show_at_the_cable():
    assert _charging_plant().cable_voltage_v == pytest.approx(355.0)  # 350 V + 50 A x 0.1 ohm
    assert _charging_plant(voltage_offset_v=60.0).cable_voltage_v == pytest.approx(480.0)
    assert _charging_plant(current_offset_a=30.0).output_current_a == pytest.approx(80.0)
