"""PowerModuleGroup on a virtual CAN bus against the rig's module simulators: sharing, loss and recovery,
fault flags, the synchronous over-voltage path, group capacity, bad frames."""
from __future__ import annotations

import asyncio
import struct
import traceback
import uuid

import can
import pytest

from controller.hw.can_port import CanPort
from controller.hw.power import PowerModuleGroup
from hil.plant import ModuleModel
from hil.sim.power_vendors import SIMULATORS
from tests.fakes.clock import FakeClock
from tests.polling import until

pytestmark = pytest.mark.timeout(20)

SILENT_AFTER_S = 5.0  # of the fake clock


class Bench:
    """Controller port with the group, rig port with the simulators, one virtual channel."""

    def __init__(self, vendor: str, addresses: list[int], on_fault=None):
        channel = f"power-{uuid.uuid4().hex}"
        self.ctrl = CanPort(can.Bus(interface="virtual", channel=channel), "controller")
        self.rig = CanPort(can.Bus(interface="virtual", channel=channel), "rig")
        self.clock = FakeClock()
        self.faults: list[tuple[str, bool]] = []
        self.models = [ModuleModel(address=a) for a in addresses]
        self.group = PowerModuleGroup(
            self.ctrl, vendor, addresses, 1, keepalive_s=1.0, telemetry_period_s=0.01,
            silent_after_s=SILENT_AFTER_S, on_fault=on_fault or self.record, clock=self.clock)
        self.sim = SIMULATORS[vendor](self.rig, self.models)
        self._tasks: list[asyncio.Task] = []

    def record(self, code: str, detail: str, active: bool) -> None:
        assert detail
        self.faults.append((code, active))

    async def __aenter__(self) -> "Bench":
        loop = asyncio.get_running_loop()
        self.group.attach()
        self.sim.attach()
        self.ctrl.start(loop)
        self.rig.start(loop)
        self._tasks = [asyncio.create_task(self.group.run()), asyncio.create_task(self.sim.run())]
        await until(lambda: self.group.capabilities.healthy_count == len(self.models))
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # each close waits for its notifier thread's receive timeout: close both at once
        await asyncio.gather(asyncio.to_thread(self.ctrl.close), asyncio.to_thread(self.rig.close))

    def limits(self) -> list[float]:
        return [round(m.current_limit_a, 3) for m in self.models]

    async def lose(self, model: ModuleModel) -> None:
        """The module's bus goes dead; past its own timeout it is off and has forgotten its setpoints."""
        model.silent = True
        model.on, model.voltage_ref_v, model.current_limit_a = False, 0.0, 0.0
        # time passes in steps while the others keep answering (an answer still in flight may land late)
        while ("MODULE_LOST", True) not in self.faults:
            assert self.clock.now < 1100.0, "the module was never dropped"
            self.clock.now += 0.5
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("vendor, addresses", [("infypower", [1, 2, 3]), ("uugreen", [11, 12, 13])])
def test_equal_sharing_then_loss_and_recovery(vendor, addresses):
    async def scenario():
        async with Bench(vendor, addresses) as b:
            caps = b.group.capabilities
            assert (caps.healthy_count, caps.total_count) == (3, 3)
            assert (caps.max_current_a, caps.max_power_w) == (300.0, 90_000.0)
            assert (caps.min_voltage_v, caps.max_voltage_v) == (150.0, 1000.0)
            b.group.set_output(400.0, 90.0)
            b.group.switch_on()
            assert b.group.is_on
            await until(lambda: b.limits() == [30.0, 30.0, 30.0] and all(m.on for m in b.models))
            assert all(m.voltage_ref_v == 400.0 for m in b.models)

            await b.lose(b.models[2])
            await until(lambda: b.limits()[:2] == [45.0, 45.0])
            assert b.group.capabilities.healthy_count == 2
            assert b.group.capabilities.max_current_a == 200.0
            states = {s["address"]: s for s in b.group.module_states()}
            assert states[addresses[2]]["state"] == "lost" and not states[addresses[2]]["healthy"]
            assert states[addresses[0]]["state"] == "ok" and states[addresses[0]]["last_seen_age_s"] >= 0.0
            assert ("GROUP_CAPACITY_LOST", True) not in b.faults  # 90 A still fits in two modules

            b.models[2].silent = False  # answers again: its setpoints come back at once
            await until(lambda: ("MODULE_LOST", False) in b.faults)
            await until(lambda: b.limits() == [30.0, 30.0, 30.0] and b.models[2].on)
            assert b.models[2].voltage_ref_v == 400.0
            assert b.group.capabilities.healthy_count == 3

    asyncio.run(scenario())


def test_a_module_is_not_dropped_before_silent_after_s():
    async def scenario():
        async with Bench("infypower", [1, 2]) as b:
            b.models[1].silent = True
            for _ in range(20):  # many missed polls, but the clock stays short of silent_after_s
                await asyncio.sleep(0.01)
            assert b.group.capabilities.healthy_count == 2 and not b.faults
            start = b.clock.now  # the fake clock has not moved: every answer so far came at `start`
            await b.lose(b.models[1])
            assert b.clock.now >= start + SILENT_AFTER_S
            assert b.group.capabilities.healthy_count == 1
            assert b.faults == [("MODULE_LOST", True)]

    asyncio.run(scenario())


def test_fault_flag_takes_a_module_out_and_capacity_follows():
    async def scenario():
        async with Bench("infypower", [1, 2]) as b:
            b.group.set_output(300.0, 150.0)
            b.group.switch_on()
            await until(lambda: b.limits() == [75.0, 75.0])

            b.models[0].overtemperature = True
            await until(lambda: ("GROUP_CAPACITY_LOST", True) in b.faults)
            assert ("MODULE_FAULT", True) in b.faults
            await until(lambda: not b.models[0].on and b.models[1].current_limit_a == 100.0)  # capped at its rating
            assert b.group.module_states()[0]["state"] == "fault"
            assert "OverTemperature" in b.group.module_states()[0]["flags"]

            b.group.set_output(300.0, 90.0)  # the connector lowers its limits
            assert b.faults[-1] == ("GROUP_CAPACITY_LOST", False)

            b.models[0].overtemperature = False
            await until(lambda: ("MODULE_FAULT", False) in b.faults)
            await until(lambda: b.limits() == [45.0, 45.0] and b.models[0].on)

            b.models[0].overtemperature = b.models[1].overtemperature = True
            await until(lambda: ("GROUP_LOST", True) in b.faults)
            assert b.group.capabilities.healthy_count == 0

    asyncio.run(scenario())


def test_power_limit_counts_for_capacity():
    async def scenario():
        async with Bench("infypower", [1, 2]) as b:
            b.group.set_output(1000.0, 70.0)  # 2 x 30 kW at 1000 V = 60 A
            b.group.switch_on()
            assert b.faults == [("GROUP_CAPACITY_LOST", True)]

    asyncio.run(scenario())


@pytest.mark.parametrize("vendor", ["infypower", "uugreen"])
def test_overvoltage_is_reported_inside_the_receive_handler(vendor):
    seen = {}

    async def scenario():
        bench = None

        def on_fault(code, detail, active):
            if code == "MODULE_OVERVOLTAGE" and active:
                seen["stack"] = [f.name for f in traceback.extract_stack()]
                bench.group.emergency_off()  # what the connector does, in the same call stack
                seen["sent_before_return"] = bench.ctrl.counters.sent

        bench = Bench(vendor, [3, 4], on_fault=on_fault)
        async with bench as b:
            b.group.set_output(400.0, 40.0)
            b.group.switch_on()
            await until(lambda: all(m.on for m in b.models))
            b.models[1].overvoltage = True
            await until(lambda: "stack" in seen)
            assert {"dispatch", "dispatch_batch"} & set(seen["stack"])  # CanPort receive path -> group -> on_fault
            assert "run" not in seen["stack"][-4:]
            assert not b.group.is_on
            await until(lambda: not any(m.on for m in b.models))
            assert b.group.module_states()[1]["state"] == "fault"

    asyncio.run(scenario())


def test_bad_frames_are_rejected_and_counted():
    async def scenario():
        async with Bench("infypower", [1]) as b:
            answer_id = (0x0A << 22) | (0x03 << 16) | (0xF0 << 8) | 1
            before = b.ctrl.counters.rejected
            b.rig.send(answer_id, b"\x00\x00\x00\x00", extended=True)  # DLC 4
            b.rig.send(answer_id, struct.pack(">ff", 9999.0, 1.0), extended=True)  # out of range
            await until(lambda: b.ctrl.counters.rejected == before + 2)
            reasons = " ".join(b.ctrl.counters.rejected_reasons)
            assert "DLC 4" in reasons and "OutputVoltage" in reasons
            assert b.group.capabilities.healthy_count == 1  # still working

    asyncio.run(scenario())


def test_switch_off_reaches_every_module_and_setpoints_are_kept_alive():
    async def scenario():
        async with Bench("uugreen", [1, 2]) as b:
            b.group.set_output(300.0, 20.0)
            b.group.switch_on()
            await until(lambda: all(m.on for m in b.models))
            b.models[0].voltage_ref_v = 0.0  # e.g. a module that restarted
            b.clock.now += 1.0  # one keep-alive period
            await until(lambda: b.models[0].voltage_ref_v == 300.0)
            b.group.switch_off()
            assert not b.group.is_on
            await until(lambda: not any(m.on for m in b.models))

    asyncio.run(scenario())


def test_bad_configuration_is_refused_with_a_reason():
    port = CanPort(can.Bus(interface="virtual", channel=f"cfg-{uuid.uuid4().hex}"), "c")
    try:
        def make(vendor="infypower", addresses=(1,), **kw):
            return PowerModuleGroup(port, vendor, addresses, 0, on_fault=lambda *a: None, **kw)

        with pytest.raises(ValueError, match="unknown power module vendor 'acme'"):
            make(vendor="acme")
        with pytest.raises(ValueError, match="twice"):
            make(addresses=(1, 1))
        with pytest.raises(ValueError, match="at least one"):
            make(addresses=())
        with pytest.raises(ValueError, match="broadcast"):
            make(vendor="uugreen", addresses=(0,))
        with pytest.raises(ValueError, match="silent_after_s"):
            make(silent_after_s=0)
        group = make()
        with pytest.raises(ValueError, match="not negative"):
            group.set_output(-1.0, 10.0)
        with pytest.raises(ValueError, match="finite"):
            group.set_output(400.0, float("nan"))
        assert group.capabilities.healthy_count == 0 and group.module_states()[0]["state"] == "unknown"
    finally:
        port.close()


def _status_answer(address: int, **flags) -> tuple[int, bytes]:
    """An InfyPower status answer from module `address` with the given flags set (as a real module sends it)."""
    from controller.formats.can.dbc import load_dbc
    from controller.hw.power.base import encode

    message = load_dbc("infypower_reg").get_message_by_name("InfyReadStatusAnswer")
    answer_id = (message.frame_id & ~0xFFFF) | (0xF0 << 8) | address
    return answer_id, encode(message, {"Temperature": 40, **flags})


def test_a_module_short_circuit_is_an_emergency_that_switches_every_module_off():
    """Finding 12: the other modules must not take over the shorted module's share and feed the short."""
    from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
    from controller.connector.connector import Connector
    from controller.faults import CATALOGUE
    from tests.connector.fakes import FakeBoard

    seen = {}

    async def scenario():
        bench = Bench("infypower", [1, 2, 3], on_fault=lambda code, detail, active: connector.on_fault(
            code, detail, active))
        cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A")
        connector = Connector(cfg, ChargingConfig(), FakeBoard(), bench.group, clock=bench.clock,
                              wall_clock=bench.clock)
        original = connector.on_fault

        def on_fault(code, detail, active):
            original(code, detail, active)
            if code == "MODULE_SHORT_CIRCUIT" and active:
                seen["group_on_after_report"] = bench.group.is_on
                seen["stack"] = [f.name for f in traceback.extract_stack()]

        connector.on_fault = on_fault
        async with bench as b:
            b.group.set_output(400.0, 60.0)
            b.group.switch_on()
            await until(lambda: all(m.on for m in b.models))
            b.rig.send(*_status_answer(2, OutputShortCircuit=1), extended=True)
            await until(lambda: "stack" in seen)
            assert {"dispatch", "dispatch_batch"} & set(seen["stack"])  # acted on inside the receive path
            assert seen["group_on_after_report"] is False
            await until(lambda: not any(m.on for m in b.models))  # the healthy modules 1 and 3 too
            assert "MODULE_SHORT_CIRCUIT" in connector.active_faults
            assert connector.state == "emergency"
            assert not connector.io.contactors_cmd

    asyncio.run(scenario())
    assert CATALOGUE["MODULE_SHORT_CIRCUIT"].severity == "emergency"


def test_telemetry_listener_runs_inside_the_receive_handler_with_the_new_values():
    seen = []

    async def scenario():
        async with Bench("infypower", [1, 2]) as b:
            b.group.listen_telemetry(lambda: seen.append((b.group.voltage_t, b.group.output_voltage_v)))
            b.group.set_output(400.0, 40.0)
            b.group.switch_on()
            assert b.group.setpoint == (400.0, 40.0)
            b.models[0].output_voltage_v = 400.0  # what the plant would make of it
            await until(lambda: any(v > 390.0 for _, v in seen))
            assert all(t is not None for t, v in seen if v > 0)

    asyncio.run(scenario())


def test_power_limited_modules_count_with_what_they_deliver():
    async def scenario():
        async with Bench("infypower", [1, 2]) as b:
            assert b.group.available_power_w() == 60_000.0  # two 30 kW ratings
            b.group.set_output(400.0, 40.0)
            b.group.switch_on()
            module = b.group._modules[1]
            # as a status answer with PowerLimited=1 and an output answer would leave it (no await in between:
            # the simulator's next answers cannot overwrite it)
            module.flags, module.voltage_v, module.current_a = frozenset({"PowerLimited"}), 400.0, 20.0
            assert b.group.available_power_w() == pytest.approx(30_000.0 + 8_000.0)
            assert b.group.output_power_w >= 8_000.0
            b.group.switch_off()
            assert b.group.available_power_w() == 60_000.0  # off: the rating again
            assert b.group.hottest_module_c == 30.0  # the simulator's temperature

    asyncio.run(scenario())


def test_a_silent_modules_last_voltage_stops_counting_after_a_few_polls():
    """module-lost on nevi: the dead module's last reading was the cable check's 902 V; held as the group's
    voltage until the module was declared lost (seconds later), it tripped VOLTAGE_MEASUREMENT_MISMATCH."""
    async def scenario():
        async with Bench("infypower", [1, 2]) as b:
            b.group.set_output(900.0, 40.0)
            b.group.switch_on()
            b.models[0].output_voltage_v = b.models[1].output_voltage_v = 900.0
            await until(lambda: b.group.output_voltage_v > 890.0)
            b.models[0].silent = True  # its last reading stays at 900 V
            b.models[1].output_voltage_v = 690.0  # the bus, now at the battery's voltage
            t_silent = b.clock.now
            while b.clock.now < t_silent + 3 * 0.01:  # three of the bench's telemetry periods
                answered = b.group.voltage_t
                b.clock.now += 0.004
                await until(lambda: b.group.voltage_t != answered)
            assert b.group._modules[1].answering  # not declared lost yet: that takes seconds
            assert b.group.output_voltage_v == pytest.approx(690.0, abs=1.0)


def test_measured_since_needs_a_voltage_and_a_current_answer_from_every_answering_module_after_the_time():
    async def scenario():
        async with Bench("uugreen", [11, 12]) as b:
            start = b.clock.now
            await until(lambda: b.group.measured_since(start - 1.0))  # every module's readings came at `start`
            assert not b.group.measured_since(start)  # nothing newer yet (the fake clock stands still)
            b.clock.now += 1.0
            await until(lambda: b.group.measured_since(start))  # the next polls bring new readings
            b.models[1].silent = True  # a silent module's reading stays old: the group is not measured
            b.clock.now += 1.0
            marked = b.clock.now - 0.5
            await asyncio.sleep(0.2)
            assert not b.group.measured_since(marked)

    asyncio.run(scenario())
