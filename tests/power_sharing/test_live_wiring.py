"""A matrix cabinet in the controller (controller/power_sharing/live.py, live_plant.py): the app builds it, each
port's demand comes from its session, faults reach the right connector, a lost group is dropped, and the move
plant drives groups and ports as the moves need."""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from controller.app import ControllerApp
from controller.connector.ev_session import CurrentDemand, EvChargeParameters
from controller.formats.cabinet.config import load_config, parse_config
from controller.power_sharing.live_plant import BUS_READING_MAX_AGE_S, HOLD_MARGIN_V, LiveMovePlant
from controller.power_sharing.port_groups import PortGroups
from tests.power_sharing.test_port_groups import FakeGroup

pytestmark = pytest.mark.timeout(30)

SHARED = Path(__file__).resolve().parents[2] / "hil/setups/nevi-shared/cabinet.toml"


@pytest.fixture
def app():
    built = ControllerApp(load_config(SHARED))
    built.build()
    yield built
    for port in built.ports.values():
        port.close()


class FakeConnector:
    def __init__(self, cid: int, state: str = "available", volts: float = 0.0, closed: bool = False):
        self.cfg = SimpleNamespace(id=cid, max_power_kw=350.0, max_current_a=350.0, max_voltage_v=1000.0)
        self.charging = SimpleNamespace(safe_voltage_v=60.0)
        self.state, self.enabled, self.volts, self.closed = state, True, volts, closed
        self.ev_parameters: EvChargeParameters | None = None
        self.ev_soc: float | None = None
        self.demand: CurrentDemand | None = None
        self.faults: list[tuple[str, bool]] = []
        self.derating = 1.0  # the connector's temperature derating (its safety supervisor's)
        self.active_faults: dict = {}
        self.supervisor = SimpleNamespace(connector_derating=lambda: self.derating)

    def present_voltage(self) -> float:
        return self.volts

    def io_contactors_closed(self) -> bool:
        return self.closed

    def raise_fault(self, code, detail=""):
        self.faults.append((code, True))

    def on_fault(self, code, detail, active):
        self.faults.append((code, active))


def test_the_controller_builds_a_matrix_cabinet_with_one_shared_group_set_and_a_port_per_connector(app):
    sharing = app.sharing
    assert sharing is not None and sorted(sharing.module_groups) == [f"G{i}" for i in range(1, 9)]
    assert all(isinstance(app.groups[c.cfg.id], PortGroups) for c in app.connectors)
    assert all(c.group is sharing.ports[c.cfg.id] for c in app.connectors)
    assert sharing.site_limit_w == 600_000.0
    # a port with no group yet still tells its cable check the modules' voltage range, but offers no power
    caps = app.connectors[0].group.capabilities
    assert caps.max_voltage_v == 1000.0 and caps.max_power_w == 0.0


def test_a_static_cabinet_is_built_as_before():
    static = ControllerApp(load_config(SHARED.parents[1] / "nevi/cabinet.toml"))
    static.build()
    try:
        assert static.sharing is None
        assert all(not isinstance(g, PortGroups) for g in static.groups.values())
    finally:
        for port in static.ports.values():
            port.close()


def test_a_ports_demand_comes_from_its_session(app):
    sharing = app.sharing
    idle = FakeConnector(1)
    assert not sharing.demand(1, idle).active
    car = FakeConnector(2, state="cable_check")
    car.ev_parameters = EvChargeParameters(max_voltage_v=820.0, max_current_a=300.0, max_power_w=None)
    before = sharing.demand(2, car)
    # no energy yet: the car's maximum voltage stands for its voltage; no request yet: it may take its maximum
    assert before.active and before.voltage_v == 820.0 and before.request_current_a is None
    assert before.car_max_current_a == 300.0 and math.isinf(before.car_max_power_w)
    assert before.cable_max_power_w == 350_000.0 and before.cable_max_current_a == 350.0
    car.state, car.volts, car.ev_soc = "charging", 712.0, 42.0
    car.demand = CurrentDemand(target_voltage_v=820.0, target_current_a=180.0, soc_percent=42.0)
    during = sharing.demand(2, car)
    assert (during.voltage_v, during.request_current_a, during.soc_pct) == (712.0, 180.0, 42.0)
    assert during.demand_w() == pytest.approx(712.0 * 180.0)
    car.state = "session_end"  # done: its groups go to the others
    assert not sharing.demand(2, car).active
    car.state, car.enabled = "charging", False
    assert not sharing.demand(2, car).active


def test_a_ports_demand_carries_its_connectors_temperature_derating(app):
    car = FakeConnector(2, state="charging", volts=700.0)
    car.ev_parameters = EvChargeParameters(max_voltage_v=820.0, max_current_a=500.0, max_power_w=None)
    assert app.sharing.demand(2, car).could_take_w() == pytest.approx(700.0 * 350.0)
    car.derating = 0.4  # a hot cable
    hot = app.sharing.demand(2, car)
    assert hot.derating == 0.4 and hot.could_take_w() == pytest.approx(0.4 * 700.0 * 350.0)


def _with_fakes(app):
    sharing = app.sharing
    fakes = {cid: FakeConnector(cid) for cid in sharing.ports}
    sharing.connectors.clear()
    sharing.connectors.update(fakes)
    return sharing, fakes


def test_a_module_fault_goes_to_the_connector_whose_output_the_group_is_on_and_its_clear_follows_it(app):
    sharing, fakes = _with_fakes(app)
    sharing.ports[3].join("G5", FakeGroup())
    sharing._group_fault("G5", "MODULE_LOST", "module 0x0d silent", True)
    assert fakes[3].faults == [("MODULE_LOST", True)] and not fakes[1].faults
    sharing.ports[3].leave("G5")
    sharing.ports[1].join("G5", FakeGroup())  # moved meanwhile: the clear goes where the fault went
    sharing._group_fault("G5", "MODULE_LOST", "", False)
    assert fakes[3].faults[-1] == ("MODULE_LOST", False) and not fakes[1].faults


def test_a_lost_group_is_dropped_from_the_allocation_and_its_port_charges_on_without_a_fault(app):
    sharing, fakes = _with_fakes(app)
    sharing.ports[2].join("G1", FakeGroup())
    sharing.ports[2].join("G2", FakeGroup())
    sharing._group_fault("G1", "GROUP_LOST", "no healthy module", True)
    assert "G1" in sharing.coordinator.failed and sorted(sharing.ports[2].members) == ["G2"]
    assert not any(f.faults for f in fakes.values())


def test_a_lost_group_is_noted_with_the_port_it_served_and_stays_out_while_its_modules_do_not_answer(app):
    sharing, fakes = _with_fakes(app)
    sharing.ports[2].join("G1", FakeGroup())
    sharing._group_fault("G1", "GROUP_LOST", "no healthy module", True)
    assert sharing.returns.last_output == {"G1": 2} and sharing.returns.hold_s == 10.0  # [power.matrix] default
    assert not sharing._group_healthy("G1")  # no module of it has answered (nothing on the bus)
    assert not sharing._may_return("G1")
    sharing.returns.clock = lambda: 1e6  # however long it waits
    assert sharing.returns.due(sharing.coordinator.failed, healthy=sharing._group_healthy,
                               emergency_latched=sharing._emergency_latched, where=lambda g: 2) == []


def test_a_healthy_dropped_group_may_return_only_from_idle_with_its_contact_open_and_no_move_running(app, monkeypatch):
    sharing, _ = _with_fakes(app)
    monkeypatch.setattr(sharing, "_group_healthy", lambda group: True)  # its modules answer (no bus here)
    sharing.matrix._feedback = {g: 0 for g in sharing.module_groups}  # the board: every contact open
    sharing.matrix._command = {g: 0 for g in sharing.module_groups}
    assert sharing._may_return("G1")
    sharing.matrix._feedback["G1"] = 2  # its contact stays closed although commanded open (welded)
    assert not sharing._may_return("G1")
    sharing.matrix._feedback["G1"] = 0
    sharing.coordinator.moves["G1"] = object()  # a move of it still running
    assert not sharing._may_return("G1")


def test_only_a_latched_emergency_on_a_port_holds_its_dropped_groups_back(app):
    from controller.faults import Fault
    sharing, fakes = _with_fakes(app)
    assert not sharing._emergency_latched(2)
    fakes[2].active_faults["OUTPUT_OVERCURRENT"] = Fault("OUTPUT_OVERCURRENT", 2, "", 0.0)  # an error, latched
    fakes[2].active_faults["POWER_DERATED"] = Fault("POWER_DERATED", 2, "", 0.0)  # a warning
    assert not sharing._emergency_latched(2)
    fakes[2].active_faults["MODULE_OVERVOLTAGE"] = Fault("MODULE_OVERVOLTAGE", 2, "", 0.0)
    assert sharing._emergency_latched(2) and not sharing._emergency_latched(3)


def test_a_matrix_board_fault_goes_to_every_connector(app):
    sharing, fakes = _with_fakes(app)
    sharing._matrix_fault("MATRIX_BOARD_LOST", "no status for 0.400 s", True)
    assert all(f.faults == [("MATRIX_BOARD_LOST", True)] for f in fakes.values())


def _plant():
    ports = {1: PortGroups((150.0, 1000.0)), 2: PortGroups((150.0, 1000.0))}
    connectors = {1: FakeConnector(1, volts=700.0, closed=True), 2: FakeConnector(2, volts=400.0)}
    groups = {"G1": FakeGroup(volts=700.0, current=120.0), "G2": FakeGroup()}
    currents = {1: 120.0, 2: 0.0}
    return LiveMovePlant(connectors, ports, groups, port_current_a=currents.__getitem__), ports, connectors, groups


def test_the_move_plant_takes_a_group_out_of_its_ports_control_before_driving_it():
    plant, ports, _, groups = _plant()
    ports[1].switch_on()
    ports[1].join("G1", groups["G1"])
    plant.set_group("G1", 700.0, 0.0)
    assert "G1" not in ports[1].members and groups["G1"].setpoints[-1] == (700.0, 0.0) and groups["G1"].is_on
    plant.set_group("G1", 0.0, 0.0)  # opened: off
    assert not groups["G1"].is_on


def test_a_contact_closing_onto_an_output_shows_on_that_port_only_until_the_move_says_it_ended():
    plant, ports, _, _ = _plant()
    plant.closing_onto("G1", 2)
    assert ports[2].contact_closing and not ports[1].contact_closing
    plant.closing_onto("G1", None)
    assert not any(port.contact_closing for port in ports.values())


def test_a_port_a_contact_travels_onto_holds_its_bus_near_its_voltage_until_the_last_contact_landed():
    plant, ports, _, groups = _plant()
    ports[1].switch_on()
    ports[1].join("G1", groups["G1"])
    ports[1].set_output(820.0, 120.0)  # a set current: the reference is the car's target, the bus 700 V
    plant.closing_onto("G2", 1)
    plant.closing_onto("G3", 1)
    assert groups["G1"].setpoints[-1] == (700.0 + HOLD_MARGIN_V, 120.0)
    plant.closing_onto("G2", None)
    assert groups["G1"].setpoints[-1][0] == 700.0 + HOLD_MARGIN_V  # G3 still travels
    plant.closing_onto("G3", None)
    assert groups["G1"].setpoints[-1] == (820.0, 120.0)
    plant.closing_onto("G2", 2)  # a port with no voltage yet (400 V car, contactors open, no group): no hold
    assert ports[2]._hold_v is None


def test_a_port_voltage_is_the_cable_with_closed_contactors_else_what_its_groups_hold():
    plant, ports, connectors, groups = _plant()
    assert plant.port_voltage_v(1) == 700.0  # contactors closed: the cable's voltage
    assert plant.port_voltage_v(2) == 0.0  # open and no group on it: 0 V, whatever the car's battery holds
    ports[2].join("G2", FakeGroup(volts=500.0))
    assert plant.port_voltage_v(2) == 0.0  # its groups are off
    ports[2].switch_on()
    assert plant.port_voltage_v(2) == 500.0


def test_a_group_handed_to_a_port_that_is_off_is_switched_off_and_one_to_no_port_is_switched_off():
    plant, ports, _, groups = _plant()
    groups["G2"].is_on = True  # matched at a voltage during its move
    plant.hand_over("G2", 2)
    assert "G2" in ports[2].members and not groups["G2"].is_on
    groups["G1"].is_on = True
    plant.hand_over("G1", None)
    assert not groups["G1"].is_on and groups["G1"].setpoints[-1] == (0.0, 0.0)


def test_a_ports_limit_reaches_its_capabilities_in_amps_and_watts():
    plant, ports, _, groups = _plant()
    ports[1].join("G1", groups["G1"])
    plant.volts_for_limit = {1: 700.0}
    plant.set_port_limit_a(1, 100.0)
    caps = ports[1].capabilities
    assert caps.max_current_a == 100.0 and caps.max_power_w == pytest.approx(70_000.0)


def test_a_car_that_does_not_follow_is_an_error_shutdown_of_its_port_only():
    plant, _, connectors, _ = _plant()
    plant.stop_port(1, "EV_LIMIT_NOT_FOLLOWED", "300 A 1.5 s after the limit was lowered to 150 A")
    assert connectors[1].faults == [("EV_LIMIT_NOT_FOLLOWED", True)] and not connectors[2].faults


def test_a_vendor_that_reports_its_rating_at_run_time_cannot_drive_a_matrix_one_clear_error():
    from controller.formats.cabinet.config import ConfigError
    from controller.hw.power.registry import VENDORS
    runtime = next((v for v in VENDORS if VENDORS[v](0).fixed_rating is None), None)
    if runtime is None:
        pytest.fail("every vendor has a fixed rating: this check has nothing to refuse")
    text = SHARED.read_text().replace('vendor = "uugreen"', f'vendor = "{runtime}"')
    cfg = parse_config(text, str(SHARED))
    app = ControllerApp(cfg)
    try:
        with pytest.raises(ConfigError) as info:
            app.build()
        assert info.value.key == "power.vendor"
    finally:
        for port in app.ports.values():
            port.close()


def test_console_status_shows_which_groups_are_on_each_output(app):
    from controller.app_cabinet_view import AppCabinetView
    from controller.console.commands.live import _status_of, _status_text
    handles = AppCabinetView(app).connectors
    app.sharing.ports[2].join("G3", FakeGroup())
    app.sharing.ports[2].join("G1", FakeGroup())
    rows = {h.id: _status_of(h, None) for h in handles}
    assert rows[2]["power_groups"] == ["G1", "G3"] and rows[1]["power_groups"] == []
    assert "  power groups: G1, G3" in _status_text(rows[2]).splitlines()
    assert "  power groups: none" in _status_text(rows[1]).splitlines()


def test_console_status_of_a_static_cabinet_has_no_power_groups_line():
    from controller.app_cabinet_view import AppCabinetView
    from controller.console.commands.live import _status_of, _status_text
    static = ControllerApp(load_config(SHARED.parents[1] / "nevi/cabinet.toml"))
    static.build()
    try:
        row = _status_of(AppCabinetView(static).connectors[0], None)
        assert "power_groups" not in row and "power groups" not in _status_text(row)
    finally:
        for port in static.ports.values():
            port.close()


class TimedGroup(FakeGroup):
    """A group whose readings are as new as `measured_t` says."""
    measured_t = 0.0

    def measured_since(self, t):
        return self.measured_t > t


def test_a_move_judges_a_group_only_by_readings_newer_than_its_last_real_command():
    from tests.fakes.clock import FakeClock
    clock = FakeClock(100.0)
    group = TimedGroup(volts=700.0, current=0.4)
    plant = LiveMovePlant({1: FakeConnector(1)}, {1: PortGroups()}, {"G1": group},
                          port_current_a=lambda output: 0.0, clock=clock)
    group.measured_t = 99.0  # from before the command
    plant.set_group("G1", 700.0, 0.0)
    assert plant.group_current_a("G1") == math.inf and math.isnan(plant.group_voltage_v("G1"))
    group.measured_t = 100.5
    assert plant.group_current_a("G1") == 0.4 and plant.group_voltage_v("G1") == 700.0
    clock.advance(1.0)
    plant.set_group("G1", 703.0, 0.0)  # follows the receiver's battery by a little: the readings still count
    assert plant.group_voltage_v("G1") == 700.0
    plant.set_group("G1", 720.0, 0.0)  # a real change: wait for new readings
    assert math.isnan(plant.group_voltage_v("G1"))
    plant.hand_over("G1", 1)  # the move is over: the port's control reads it as it is
    assert plant.group_voltage_v("G1") == 700.0


def test_a_group_closes_only_onto_an_output_whose_voltage_holds_still():
    plant, ports, connectors, groups = _plant()
    receiver = connectors[2]
    for state, receives in (("plugged", True), ("parameter_discovery", True), ("charging", True),
                            ("stopping", False), ("welding_detection", False), ("session_end", False),
                            ("error_shutdown", False), ("available", False)):
        receiver.state = state
        assert plant.may_receive(2) is receives, state
    for state in ("cable_check", "precharge"):  # ramping: only while no group feeds the output yet
        receiver.state = state
        assert plant.may_receive(2)
        ports[2].join("G2", groups["G2"])
        assert not plant.may_receive(2)
        ports[2].leave("G2")


def test_a_move_waiting_for_its_receiver_does_not_fail_however_long_it_waits():
    from controller.power_sharing.group_move import Step
    from tests.power_sharing.move_rig import MoveRig
    from hil.sim.shared_outputs import SimCar
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    rig.plant.may_receive = lambda output: False
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    rig.run(5.0)  # far beyond match_s
    assert move.step_now is Step.MATCH and rig.matrix.commanded("G2") is None


def test_no_group_closes_onto_a_charging_port_whose_car_said_it_is_complete_or_was_asked_to_stop():
    plant, _, connectors, _ = _plant()
    receiver = connectors[2]
    receiver.state = "charging"
    receiver.demand = CurrentDemand(target_voltage_v=420.0, target_current_a=100.0)
    assert plant.may_receive(2)
    receiver.demand = CurrentDemand(target_voltage_v=420.0, target_current_a=0.0, charging_complete=True)
    assert not plant.may_receive(2)
    receiver.demand, receiver.stop_requested_t = None, 12.0
    assert not plant.may_receive(2)


def test_the_csms_station_limit_bounds_the_allocator_and_an_unreadable_one_keeps_the_last(tmp_path):
    """OCPP block K: a ChargingStationMaxProfile (a building energy manager's limit) reaches the allocator as
    its external limit; a failure to read it never lifts the limit."""
    from dataclasses import replace

    cfg = load_config(SHARED)
    cfg = replace(cfg, ocpp=replace(cfg.ocpp, url="ws://127.0.0.1:9/ocpp", station_id="CAB-SHARED",
                                    password="a-password-of-16+", certificate_dir=str(tmp_path / "certs")))
    built = ControllerApp(cfg)
    built.build()
    try:
        assert built.sharing.external_limit == built.ocpp.smart_charging.station_limit_w
        assert built.sharing.external_limit_w == math.inf  # no profile installed
        built.sharing.external_limit = lambda: 300_000.0
        assert built.sharing.external_limit_w == 300_000.0

        def unreadable() -> float:
            raise ValueError("a profile that cannot be read")
        built.sharing.external_limit = unreadable
        assert built.sharing.external_limit_w == 300_000.0
    finally:
        for port in built.ports.values():
            port.close()


def test_a_group_reading_older_than_the_bound_does_not_count_even_after_the_last_command():
    from tests.fakes.clock import FakeClock
    clock = FakeClock(100.0)
    group = TimedGroup(volts=700.0, current=0.4)
    plant = LiveMovePlant({1: FakeConnector(1)}, {1: PortGroups()}, {"G1": group},
                          port_current_a=lambda output: 0.0, clock=clock, reading_max_age_s=1.0)
    plant.set_group("G1", 700.0, 0.0)
    group.measured_t = 100.1
    assert plant.group_voltage_v("G1") == 700.0
    clock.advance(1.05)  # the modules went silent, or the loop stalled: 0.95 s old, still within the bound
    assert plant.group_voltage_v("G1") == 700.0
    clock.advance(0.1)
    assert math.isnan(plant.group_voltage_v("G1")) and plant.group_current_a("G1") == math.inf


def test_no_group_closes_onto_an_output_whose_bus_reading_is_old():
    from tests.fakes.clock import FakeClock
    clock = FakeClock(100.0)
    receiver = FakeConnector(2, state="charging", volts=700.0, closed=True)
    receiver.io = SimpleNamespace(status=SimpleNamespace(measure_t=99.9))
    plant = LiveMovePlant({2: receiver}, {2: PortGroups()}, {}, port_current_a=lambda output: 0.0, clock=clock)
    assert plant.may_receive(2)
    clock.advance(BUS_READING_MAX_AGE_S)  # the I/O board's DC measure stopped (or the loop stalled)
    assert not plant.may_receive(2)
    receiver.io.status = None  # no measure at all yet
    assert not plant.may_receive(2)


def test_a_lost_matrix_board_ends_the_moves_whose_contact_travels_but_is_not_judged_on_the_tick_after_a_stall(app):
    from controller.power_sharing.group_move import Step
    from tests.fakes.clock import FakeClock

    class StubMove:
        def __init__(self, step: Step) -> None:
            self.step_now, self.told, self.steps = step, 0, 0

        finished = property(lambda self: False)

        def board_lost(self) -> None:
            self.told += 1

        def step(self) -> Step:
            self.steps += 1
            return self.step_now

    sharing, _ = _with_fakes(app)
    sharing.clock = sharing.matrix.clock = clock = FakeClock()
    assert not sharing.matrix.online  # no status from the board at all
    travelling, waiting = StubMove(Step.CLOSE), StubMove(Step.WAIT_DONOR)
    sharing.coordinator.moves.update({"G1": travelling, "G2": waiting})
    assert sharing.tick() is False
    assert (travelling.told, travelling.steps) == (1, 1) and (waiting.told, waiting.steps) == (0, 0)
    assert sharing.coordinator.allocation is None  # nothing decided while the board is lost
    clock.advance(0.5)  # a stall: the board's statuses may wait in the receive queue
    sharing.tick()
    assert travelling.told == 1
    clock.advance(0.06)  # the next tick on time: still no status, the board is lost
    sharing.tick()
    assert travelling.told == 2
