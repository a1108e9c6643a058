"""Module simulators against the controller's drivers, end to end over a virtual CAN bus with the plant."""
from __future__ import annotations

import asyncio
import struct
import uuid

import can
import pytest

from controller.hw.can_port import CanPort
from controller.hw.power import PowerModuleGroup
from controller.hw.power.vendors.infypower import InfyPowerDriver
from controller.hw.power.vendors.uugreen import UUGreenDriver
from hil.plant import ConnectorPlant, ModuleModel
from hil.wires.can import RigCanBus
from hil.sim.power_vendors import SIMULATORS
from hil.sim.power_vendors.infypower import InfyPowerSim
from hil.sim.power_vendors.uugreen import UUGreenSim
from tests.fakes.clock import FakeClock
from tests.polling import until

pytestmark = pytest.mark.timeout(20)


class Battery:
    def __init__(self, ocv_v: float = 350.0, resistance_ohm: float = 0.05):
        self.ocv_v, self.internal_resistance_ohm, self.charge_ah = ocv_v, resistance_ohm, 0.0

    def open_circuit_voltage(self) -> float:
        return self.ocv_v

    def absorb(self, current_a: float, dt: float) -> None:
        self.charge_ah += current_a * dt / 3600.0


def _ports():
    channel = f"sims-{uuid.uuid4().hex}"
    return (CanPort(can.Bus(interface="virtual", channel=channel), "controller"),
            RigCanBus(can.Bus(interface="virtual", channel=channel), "rig"))


async def _close(*ports: CanPort | RigCanBus) -> None:
    await asyncio.gather(*(asyncio.to_thread(p.close) for p in ports))


@pytest.mark.parametrize("vendor, addresses", [("infypower", [0x01, 0x02]), ("uugreen", [21, 22])])
def test_charge_through_the_simulators(vendor, addresses):
    async def scenario():
        ctrl, rig = _ports()
        models = [ModuleModel(address=a) for a in addresses]
        plant = ConnectorPlant(connector_id=1, modules=models, dc_plus_closed=True, dc_minus_closed=True,
                               ev_cp_state="C", ev_contactor_closed=True, battery=Battery())
        faults = []
        group = PowerModuleGroup(ctrl, vendor, addresses, 3, telemetry_period_s=0.01,
                                 on_fault=lambda *f: faults.append(f))
        sim = SIMULATORS[vendor](rig, models)
        group.attach()
        sim.attach()
        loop = asyncio.get_running_loop()
        ctrl.start(loop)
        rig.start(loop)

        async def physics():
            while True:
                plant.step(0.01)
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(t) for t in (group.run(), sim.run(), physics())]
        try:
            await until(lambda: group.capabilities.healthy_count == 2)
            assert group.capabilities.max_power_w == 60_000.0
            group.set_output(400.0, 20.0)
            group.switch_on()
            await until(lambda: abs(group.output_current_a - 20.0) < 0.01)
            # 20 A into 350 V behind 0.05 ohm: the modules sit at 351 V, 10 A each
            await until(lambda: abs(group.output_voltage_v - 351.0) < 0.01)
            assert all(abs(s["current"] - 10.0) < 0.01 for s in group.module_states())
            assert all(m.voltage_ref_v == 400.0 and m.current_limit_a == 10.0 for m in models)
            assert abs(plant.output_current_a - 20.0) < 0.01

            group.switch_off()  # "off" is complete once the telemetry shows the current gone
            await until(lambda: group.output_current_a < 0.5)
            assert not any(m.on for m in models) and plant.output_current_a == 0.0
            assert faults == [] and ctrl.counters.rejected == 0 and rig.rejected == 0
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _close(ctrl, rig)

    asyncio.run(scenario())


def test_comm_timeout_silence_and_bad_requests():
    async def scenario():
        ctrl, rig = _ports()
        clock = FakeClock(0.0)
        models = [ModuleModel(address=1), ModuleModel(address=2, silent=True)]
        sim = InfyPowerSim(rig, models, clock=clock, check_period_s=0.005)
        driver = InfyPowerDriver(0)
        answers = []
        ctrl.on(0, answers.append, extended=True, mask=0)  # every frame the rig sends
        sim.attach()
        rig.start(asyncio.get_running_loop())
        ctrl.start(asyncio.get_running_loop())
        task = asyncio.create_task(sim.run())
        try:
            for address in (1, 2):
                ctrl.send(*driver.on_off_frame(address, True), extended=True)
            await until(lambda: models[0].on and len(answers) == 1)
            assert not models[1].on  # a silent module hears nothing
            assert answers[0].arbitration_id == (0x0A << 22) | (0x1A << 16) | (0xF0 << 8) | 1

            clock.now = 10.5  # no controller frame for longer than the module's 10 s timeout
            await until(lambda: not models[0].on)

            ctrl.send((0x0A << 22) | (0x03 << 16) | (1 << 8) | 0xF0, b"\x00" * 3, extended=True)  # DLC 3
            ctrl.send((0x0A << 22) | (0x3E << 16) | (1 << 8) | 0xF0, bytes(8), extended=True)  # no such command
            await until(lambda: rig.rejected == 2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await _close(ctrl, rig)

    asyncio.run(scenario())


def test_infy_answers_go_back_to_the_requesting_controller_address():
    async def scenario():
        ctrl, rig = _ports()
        model = ModuleModel(address=9, output_voltage_v=512.25, output_current_a=33.5)
        InfyPowerSim(rig, [model]).attach()
        got = []
        ctrl.on(0, got.append, extended=True, mask=0)
        rig.start(asyncio.get_running_loop())
        ctrl.start(asyncio.get_running_loop())
        try:
            ctrl.send((0x0A << 22) | (0x03 << 16) | (9 << 8) | 0xF1, bytes(8), extended=True)
            await until(lambda: len(got) == 1)
            assert got[0].arbitration_id == (0x0A << 22) | (0x03 << 16) | (0xF1 << 8) | 9
            assert struct.unpack(">ff", got[0].data) == (512.25, 33.5)
        finally:
            await _close(ctrl, rig)

    asyncio.run(scenario())


def test_uugreen_broadcast_gives_every_module_the_full_current():
    """Why the driver never uses address 0 for a current setpoint."""
    async def scenario():
        ctrl, rig = _ports()
        models = [ModuleModel(address=a) for a in (1, 2, 3)]
        UUGreenSim(rig, models).attach()
        got = []
        ctrl.on(0, got.append, extended=True, mask=0)
        rig.start(asyncio.get_running_loop())
        ctrl.start(asyncio.get_running_loop())
        try:
            frame_id, data = UUGreenDriver(0).output_frames(1, 400.0, 60.0)[1]
            ctrl.send(frame_id & ~(0x7F << 14), data, extended=True)  # the same command to address 0
            await until(lambda: len(got) == 3)
            assert [m.current_limit_a for m in models] == [60.0, 60.0, 60.0]
            # the answers carry the module address and serial-number bits in the low 14 bits
            assert sorted((m.arbitration_id >> 14) & 0x7F for m in got) == [1, 2, 3]
            assert all(m.data[0] == 0x01 for m in got)  # group 0, set response
        finally:
            await _close(ctrl, rig)

    asyncio.run(scenario())
