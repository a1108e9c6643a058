"""Runs a scenario: the rig, the controller under test, a car per connector; writes the report."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from hil.console_pin import ConsolePin
from hil.csms.outside import OutsideCsms
from hil.csms.rig_role import RigCsms, with_ocpp
from hil.controller_handle import ExternalController, InProcessController, SubprocessController
from hil.ev.car import CarOutcome, CarPlan, SimulatedCar
from hil.ev.charge_curves import car_model
from hil.ev.evcc.profile import load_profile
from hil.ev.evcc.rig_link import RigV2gLink
from controller.formats.cabinet.config import load_config
from hil.ev.process_stalls import stall_summary
from hil.timing_summary import summarize_ms
from controller.formats.events import (ControllerStarted, Event, FaultRaised, PhaseChanged, SeccListening,
                                       SessionEnded, V2gClosed)
from hil.report_series import SeriesRecorder, write_series
from hil.rig import Rig
from hil.rig_tls import rig_tls_for
from hil.scenarios import SCENARIOS, Scenario, ScenarioRefused
from hil.setup import RigSetup, cabinet_path, private_can
from hil.sharing_watch import SharingWatch
from hil.verdict import judge

SEPARATE_CAN_RECIPE = (
    "python-can's 'virtual' bus does not leave the rig's process: give both a bus they share, e.g. "
    "--can socketcan:vcan0 (tools/vcan-run), or udp_multicast in a private network namespace (never the host's: "
    "the frames would leave through its network card): ip netns add chg && ip netns exec chg ip link set lo up && "
    "ip netns exec chg ip route add 224.0.0.0/4 dev lo && ip netns exec chg charger-hil run --separate-process "
    "--can udp_multicast:239.74.163.2")
START_TIMEOUT_S = 30.0  # a separate controller process starts slowly in a user-mode-linux guest
SESSION_TIMEOUT_S = 120.0
GROUP_SILENT_S = 3.0  # kill_group_briefly: the group's modules answer again after this (lost after 2 s on nevi-shared)


@dataclass
class RunState:
    """What the runner has seen so far; the progress display and the report read it."""
    t0: float
    phases: list[dict] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    sessions: dict[int, dict] = field(default_factory=dict)
    states: dict[int, str] = field(default_factory=dict)
    seccs: dict[int, dict] = field(default_factory=dict)  # the controller's `secc` events: where each SECC listens
    v2g_sessions: list[dict] = field(default_factory=list)  # the controller's `v2g_closed` events
    closed: bool = False
    started_t: float | None = None  # wall clock when the "started" event arrived (it has no time of its own)
    available_t: dict[int, float] = field(default_factory=dict)  # controller's clock: each first available

    def on_event(self, event: Event) -> None:
        if self.closed:
            return
        t = round(time.time() - self.t0, 3)
        match event:
            case ControllerStarted():
                self.started_t = time.time()
            case PhaseChanged(connector=connector, state=state):
                if state == "available":
                    self.available_t.setdefault(connector, float(event.t))
                self.states[connector] = state
                self.phases.append({"name": state, "connector": connector, "t": t})
            case FaultRaised(connector=connector, code=code, severity=severity):
                self.faults.append({"code": code, "severity": severity, "connector": connector, "t": t,
                                    "source": "controller"})
            case SessionEnded(connector=connector):
                self.sessions[connector] = event.json_fields()  # the record as the controller printed it
            case SeccListening(connector=connector):
                self.seccs[connector] = event.json_fields()
            case V2gClosed():
                self.v2g_sessions.append(event.json_fields())

    def rig_fault(self, code: str, connector: int) -> None:
        if not self.closed and not any(f["code"] == code and f["connector"] == connector for f in self.faults):
            self.faults.append({"code": code, "severity": "emergency", "connector": connector,
                                "t": round(time.time() - self.t0, 3), "source": "rig"})


async def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class ScenarioRun:
    def __init__(self, scenario: Scenario, setup: RigSetup, *, separate_process: bool = False,
                 can_override: tuple[str, str] | None = None, progress=None,
                 external_secc: tuple[str, int] | None = None, modbus_base_port: int = 0,
                 protocol: str | None = None, link_mode: str = "loopback", pcap: str | None = None,
                 car_profile: str | None = None, console_link: str | None = None, hold=None,
                 start_timeout_s: float = START_TIMEOUT_S, record_series: bool = True,
                 before_controller: Callable[[ScenarioRun], Awaitable[list[str]]] | None = None,
                 outside_csms: OutsideCsms | None = None):
        """`record_series` False: no time series sampled (a bench keeps the loop free of it).
        `before_controller`: awaited once the rig is up, before the controller is made; returns config
        overrides to add (a bench puts a Modbus tap between a simulator and the controller).
        `outside_csms` (--csms, prepared for this scenario): the controller's CSMS; the rig starts none."""
        self._mode = "external" if external_secc else "process" if separate_process else "inprocess"
        refusal = scenario.refusal(self._mode)
        if refusal:
            raise ScenarioRefused(refusal)
        if self._mode != "inprocess" and _virtual_can(setup, can_override):
            raise ScenarioRefused(("--separate-process" if separate_process else "charger-hil rig")
                                  + ": " + SEPARATE_CAN_RECIPE)
        self.scenario = scenario
        self.start_timeout_s = start_timeout_s
        self.console_link = console_link
        self.hold = hold  # called with the report; the run then waits (controller and rig up) until it returns
        self.setup = setup
        self.state = RunState(t0=time.time())
        if can_override is None and not separate_process and not external_secc:
            can_override = private_can(setup)
        self.rig = Rig(setup, can_override, modbus_base_port=modbus_base_port)
        self._can_override = can_override
        self._external_secc = external_secc
        self.controller = None
        self.cars: dict[int, SimulatedCar] = {}
        self.progress = progress
        self.finals: dict[int, dict] = {}
        self.meter_before: dict[int, float] = {}
        self.meter_after: dict[int, float] = {}
        self.series = SeriesRecorder(self)
        # a matrix cabinet: what the sharing did (hil/sharing_watch.py)
        self.sharing_watch = SharingWatch(self) if self.rig.matrix_sim is not None else None
        self.console_pin: ConsolePin | None = None  # with --console-link and no PIN in the cabinet
        self.hold_stop: asyncio.Event | None = None  # while holding: set to end the hold
        self.injection: dict | None = None  # what the scenario injected, when, and whether it worked
        self.start_soc: dict[int, float] = {}
        self.csms = RigCsms(scenario.csms, profile=scenario.csms_profile) if scenario.csms else None
        self._csms_overrides: list[str] = []
        self.outside_csms = outside_csms
        if outside_csms is not None:
            self.csms = None
            self._csms_overrides = list(outside_csms.overrides)
        if self.csms is not None and self.csms.smart is not None:  # block K's roles judge the cabinet's output
            self.csms.smart.power_w = lambda ids: sum(self.rig.plants[i].cable_voltage_v * self.rig.plants[i].output_current_a
                                                      for i in ids)
        self.ended_t: float | None = None
        self.record_series = record_series
        self.before_controller = before_controller
        self.extra_overrides: list[str] = []  # from before_controller
        self.spawned_t: float | None = None  # wall clock just before the controller was started
        self._recorder: asyncio.Task | None = None
        self._car_tasks: list[asyncio.Task] = []
        # V2G (DIN / ISO-2) on every connector, in every mode (see RigV2gLink for how each car reaches its SECC)
        ids = [c.id for c in setup.cabinet_config.connectors]
        protocol = protocol or ("iso2" if scenario.v2g_tls else "din")  # DIN 70121 has no TLS
        self.tls = rig_tls_for(scenario, protocol, self._mode, pcap)
        self.v2g = RigV2gLink(protocol, ids, link_mode, pcap=pcap, separate_process=separate_process,
                              profile=load_profile(car_profile) if car_profile else None,
                              announced=self.state.seccs, external_sdp=external_secc, ask_tls=self.tls is not None)

    def _make_controller(self):
        """After the rig is up: the controller's Modbus links must point at the rig's simulators."""
        overrides = [*self.setup.overrides, *self.rig.config_overrides(), *self.extra_overrides,
                     *self._csms_overrides, *(self.tls.controller_overrides() if self.tls else ())]
        cabinet = cabinet_path(self.setup)
        if self.console_link:  # the controller's console on a pty, linked at this path
            overrides.append(f'console.port="pty:{self.console_link}"')
            if not self.setup.cabinet_config.console.technician_pin:
                self.console_pin = ConsolePin(self.console_link)
                if self._mode == "process":  # in a file of its own, never in the child's command line
                    cabinet = self.console_pin.cabinet_copy(cabinet) or cabinet
                if cabinet == cabinet_path(self.setup):
                    overrides.append(self.console_pin.override())
        if self._mode == "external":
            return ExternalController()
        if self._mode == "process":
            overrides += self.v2g.controller_overrides()
            return SubprocessController(cabinet, self._can_override, self.state.on_event, overrides)
        config = load_config(cabinet, tuple(overrides))
        return InProcessController(config, self._can_override, self.state.on_event)

    async def run(self) -> dict:
        await self.rig.start()
        try:
            await self._bring_up()
            ids = [c.id for c in self.setup.cabinet_config.connectors]
            outcomes = await self._drive(ids)
            if self.csms is not None:
                # what was queued while it was away reaches it before the verdict (the ports that had a car)
                await self.csms.settle(list(outcomes))
            report = self._report(outcomes)  # the verdict is about the scenario, not what a technician did after
            if self.rig.matrix_sim is not None:  # contacts switched under load must stay 0 (hil/sim/power_matrix.py)
                report["matrix"] = self.rig.matrix_sim.report()
                report["sharing"] = self.sharing_watch.report(self.setup.cabinet_config.max_cabinet_power_kw * 1000.0)
            if self.csms is not None:
                report["ocpp"] = self.csms.report()
            elif self.outside_csms is not None:
                report["ocpp"] = self.outside_csms.report()
            if self.hold is not None:
                self.state.closed = False  # keep recording while a technician looks at it
                held_from = time.time()
                await self.hold(report, self)
                self.state.closed = True
                report["held_s"] = round(time.time() - held_from, 1)
        finally:
            await self._take_down()
        return report

    async def start(self) -> None:
        """The first half of run() for a bench that drives the cabinet itself: rig and controller up, every
        connector available. Call stop() in a `finally`, also when start() raised."""
        await self.rig.start()
        await self._bring_up()

    async def stop(self) -> None:
        """Cars still running are cancelled, then the controller, links and rig go down as after run()."""
        await self._take_down()

    async def _bring_up(self) -> None:
        await self.v2g.open()
        if self.csms is not None:
            self._csms_overrides = await self.csms.start()
        if self.before_controller is not None:
            self.extra_overrides = list(await self.before_controller(self))
        self.controller = self._make_controller()
        if self._mode == "inprocess":
            self.controller.app.build()
            await self.v2g.attach(self.controller.app)
        self.spawned_t = time.time()
        await self.controller.start()
        if self.record_series:
            self._recorder = asyncio.create_task(self.series.follow(), name="series")
        ids = [c.id for c in self.setup.cabinet_config.connectors]
        await _wait_for(lambda: self._all_available(ids), self.start_timeout_s, "every connector available")

    async def _take_down(self) -> None:
        for task in self._car_tasks:  # after run() they have all ended; a bench may leave cars charging
            task.cancel()
        await asyncio.gather(*self._car_tasks, return_exceptions=True)
        if self._recorder is not None:
            self._recorder.cancel()
            await asyncio.gather(self._recorder, return_exceptions=True)
        if self.controller is not None:
            await self.controller.stop()
        await self.v2g.close()
        if self.csms is not None:
            await self.csms.stop()
        await self.rig.stop()
        if self.tls is not None:
            self.tls.cleanup()
        if self.console_pin is not None:  # the PIN was for this run only
            self.console_pin.remove()

    def can_channels(self) -> list[tuple[str, str]]:
        """The (interface, channel) pairs the cabinet's CAN traffic is on."""
        if self._can_override is not None:
            return [self._can_override]
        return [(c.interface, c.channel) for c in self.setup.cabinet_config.can.values()]

    def plug_car(self, cid: int, plan: CarPlan, model: str | None = None, after_s: float = 0.0) -> asyncio.Task:
        """A new simulated car on connector `cid` (the setup's, or a model of hil/ev/charge_curves.py), running
        `plan` in a task of its own, plugged in after `after_s`."""
        car = self.rig.new_car(cid, self.v2g.car_link(cid), model, time_scale=self.scenario.car_time_scale)
        self.cars[cid] = car
        self.start_soc[cid] = car.battery.soc_percent

        async def drive() -> CarOutcome:
            await asyncio.sleep(after_s)
            if self.sharing_watch is not None:
                self.sharing_watch.note_plugged(cid)
            return await car.run(plan)

        task = asyncio.create_task(drive() if after_s or self.sharing_watch else car.run(plan), name=f"car-{cid}")
        self._car_tasks = [t for t in self._car_tasks if not t.done()] + [task]  # a bench plugs thousands
        return task

    def _all_available(self, ids: list[int]) -> bool:
        if self.controller.reports_events:
            return all(self.state.states.get(i) == "available" and i in self.state.seccs for i in ids)
        # no events from an external controller: a static +12 V CP (duty 100 %) on every board says it
        return all(self.rig.io_sims[i].commanded_duty == 100.0 and self.rig.io_sims[i].commands_received
                   for i in ids)

    async def _drive(self, ids: list[int]) -> dict[int, CarOutcome]:
        plan = CarPlan(target_soc=self.setup.car.target_soc, request_period_s=self.setup.car.request_period_s)
        session_timeout_s = SESSION_TIMEOUT_S
        if self.outside_csms is not None:  # the car waits for the outside CSMS's authorization as real cars do
            plan = replace(plan, authorization_timeout_s=self.outside_csms.auth_wait_s)
            session_timeout_s += self.outside_csms.auth_wait_s
        tasks: dict[int, asyncio.Task] = {}
        if self.csms is not None:  # e.g. a reservation made before the car arrives
            await self.csms.before_cars(ids, SESSION_TIMEOUT_S)
        self.meter_before = {cid: sim.register_energy_wh for cid, sim in self.rig.meter_sims.items()}
        fleet = {cid: (model, after_s) for cid, model, after_s in self.scenario.cars}
        if fleet:  # only the ports the scenario names get a car, each of its model, when it says
            ids = [cid for cid in ids if cid in fleet]
        for cid in ids:
            car_plan = replace(plan, **self.scenario.plan) if cid == ids[0] else plan
            model, after_s = fleet.get(cid, (None, 0.0))
            if model is not None:
                car_plan = replace(car_plan, target_soc=car_model(model).target_soc)
            tasks[cid] = self.plug_car(cid, car_plan, model, after_s)
        watchers = [asyncio.create_task(self._watch_board(cid)) for cid in ids]
        if self.sharing_watch is not None:
            watchers.append(asyncio.create_task(self.sharing_watch.follow(), name="sharing-watch"))
        if self.scenario.inject and self.scenario.inject_before_plug:
            self.inject_now(ids[0], self.scenario.inject)
        elif self.scenario.inject:
            watchers.append(asyncio.create_task(self._inject(ids[0])))
        if self.progress:
            watchers.append(asyncio.create_task(self.progress.follow(self)))
        if self.csms is not None:
            watchers.append(asyncio.create_task(self.csms.play(ids, SESSION_TIMEOUT_S), name="csms"))
        try:
            done = await asyncio.wait_for(asyncio.gather(*tasks.values()), session_timeout_s)
            await asyncio.sleep(self.scenario.settle_s)
            for cid in ids:
                if self.rig.plants[cid].ev_cp_state != "A" and cid in self.cars:
                    self.cars[cid].unplug()
            await asyncio.sleep(0.5)
            # a session closed with a meter stop reading is reported a moment after the power went off
            await _wait_for(lambda: not self.controller.reports_events or not self.controller.alive or (all(
                cid in self.state.sessions for cid in ids if self._session_started(cid))
                and len(self.state.v2g_sessions) >= self._v2g_connections()), 5.0, "session records")
            self.finals = {cid: self._final(cid) for cid in ids}
            self.state.closed = True  # the verdict is about the scenario, not the controller's shutdown
            self.meter_after = {cid: sim.register_energy_wh for cid, sim in self.rig.meter_sims.items()}
            self.ended_t = time.time()
            self.series.sample()
        finally:
            for w in watchers:
                w.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        return dict(zip(tasks.keys(), done))

    async def _watch_board(self, cid: int) -> None:
        sim = self.rig.io_sims[cid]
        while True:
            if sim.watchdog_tripped:  # the board's own over-voltage trip is the controller's IO_BOARD_OVERVOLTAGE_TRIP
                self.state.rig_fault("IO_BOARD_OVERVOLTAGE_TRIP" if sim.trip_cause == "OVERVOLTAGE"
                                     else "IO_WATCHDOG_TRIPPED", cid)
            await asyncio.sleep(0.02)

    async def _inject(self, cid: int) -> None:
        car = self.cars[cid]
        if not self.scenario.inject_before_plug:
            await _wait_for(lambda: car.charging_started_t is not None, SESSION_TIMEOUT_S, "charging")
            await asyncio.sleep(self.scenario.inject_after_charging_s or 0.0)
        self.inject_now(cid, self.scenario.inject)

    def inject_now(self, cid: int, action: str) -> None:
        """Make the scenario's fault; the report says whether it was made (a verdict must not pass on an
        injection that never happened)."""
        self.injection = {"action": action, "connector": cid, "t": round(time.time() - self.state.t0, 3),
                          "done": False}
        try:
            self._apply(cid, action)
        except Exception as exc:
            self.injection["error"] = f"{exc.__class__.__name__}: {exc}"
            raise
        self.injection["done"] = True

    def _apply(self, cid: int, action: str) -> None:
        if action == "user_stop":
            if not self.controller.request_stop(cid):
                raise RuntimeError(f"connector {cid} had no session to stop")
        elif action == "press_estop":
            self.rig.io_sims[cid].press_estop()
        elif action == "kill_module":
            module = self.rig.module_models[cid][0]
            module.silent = True
            module.on = False
        elif action in ("kill_group", "kill_group_briefly"):  # a matrix cabinet: one group on this output goes silent
            modules = self.rig.matrix_circuit.modules_of(self.rig.matrix_circuit.groups_on(cid)[0])
            for module in modules:
                module.silent, module.on = True, False
            if action == "kill_group_briefly":  # ... and answers again a moment later
                asyncio.get_running_loop().call_later(
                    GROUP_SILENT_S, lambda: [setattr(module, "silent", False) for module in modules])
        elif action == "module_overvoltage":
            self.rig.module_models[cid][0].overvoltage = True
        elif action == "crash_controller":
            asyncio.get_running_loop().create_task(self.controller.crash())
        elif action == "low_insulation":
            self.rig.plants[cid].isolation_ohm = 40e3
        elif action == "silence_meter":
            self.rig.meter_sims[cid].silent = True
        elif action == "fail_imd_selftest":
            self.rig.imd_sims[cid].self_test_fails = True
        else:
            raise ValueError(f"unknown injection {action!r}")

    def _v2g_connections(self) -> int:
        """V2G connections the cars opened: each ends with one `v2g_closed` event from the controller."""
        return sum(1 for link in self.v2g.car_links if link.connection is not None)

    def _session_started(self, cid: int) -> bool:
        return any(p["connector"] == cid and p["name"] == "negotiating" for p in self.state.phases)

    def _final(self, cid: int) -> dict:
        if not self.controller.alive:
            state = "controller_stopped"
        elif not self.controller.reports_events:
            state = "not_observed"
        else:
            state = self.state.states.get(cid, "unknown")
        return {"state": state, **self.rig.final_state(cid)}

    def _report(self, outcomes: dict[int, CarOutcome]) -> dict:
        per_connector = []
        ended = self.ended_t or time.time()
        stalls = self.v2g.stalls_by_connector()  # the car's deadlines moved for its process's stalls
        for cid, outcome in outcomes.items():
            plant = self.rig.plants[cid]
            session = self.state.sessions.get(cid) if self.controller.reports_events else {
                "energy_kwh": round(plant.energy_wh / 1000.0, 4), "peak_kw": round(plant.peak_power_w / 1000.0, 2)}
            session = session or {}
            final = self.finals[cid]
            start_t, end_t = session.get("start_t"), session.get("end_t")
            per_connector.append({
                "connector": cid, "car": {"ok": outcome.ok, "reason": outcome.reason,
                                          "soc": round(self.cars[cid].battery.soc_percent, 1),
                                          "start_soc": round(self.start_soc.get(cid, 0.0), 1),
                                          "stalls": stalls.get(cid) or stall_summary([])},
                "session_s": round(end_t - start_t, 2) if start_t and end_t else None,
                "energy_kwh": session.get("energy_kwh", 0.0), "peak_kw": session.get("peak_kw", 0.0),
                "stop_reason": session.get("stop_reason", ""),
                "energy_source": session.get("energy_source", "rig"),
                "meter_register_delta_kwh": round((self.meter_after[cid] - self.meter_before[cid]) / 1000.0, 4)
                if cid in self.meter_before else None,
                "rig_energy_kwh": round(self.rig.plants[cid].energy_wh / 1000.0, 4), "final": final,
            })
        blocking = [f for f in self.state.faults if f["severity"] != "warning"
                    and f["code"] not in self.scenario.allow_faults]
        if not self.controller.reports_events and not all(o.ok for o in outcomes.values()):
            blocking.append({"code": "SESSION_REFUSED", "severity": "error"})  # seen by the car only
        first = per_connector[0]
        return {
            "scenario": self.scenario.name, "setup": self.setup.name,
            "protocol": self.v2g.protocol,
            "controller": self._mode, "duration_s": round(ended - self.state.t0, 2),
            "injection": self.injection,
            "result": "fault" if blocking else ("ok" if all(o.ok for o in outcomes.values()) else "failed"),
            "energy_kwh": round(sum(c["energy_kwh"] for c in per_connector), 4),
            "energy_source": first_source(per_connector),
            "peak_kw": max(c["peak_kw"] for c in per_connector),
            "phases": list(self.state.phases) if self.controller.reports_events else [
                {"name": name, "connector": cid, "t": round(t - self.state.t0, 3), "source": "car"}
                for cid, car in self.cars.items() for name, t in car.phases],
            "controller_events": self.controller.reports_events,
            "faults": list(self.state.faults),
            "final": first["final"],
            "connectors": per_connector,
            "v2g": {"protocol": self.v2g.protocol, "link": self.v2g.mode,
                    "answer_times": answer_times(self.state.v2g_sessions),
                    "car_round_trips": car_round_trips(self.v2g),
                    "tls": self.v2g.tls_by_connector(), "tls_leaf": self.v2g.tls_leaf_by_connector()},
        }


def answer_times(v2g_sessions: list[dict]) -> dict:
    """The SECC's view over every connector's sessions (its `v2g_closed` events): socket in to socket out.
    Counts and worst cover every answer; percentiles the samples the sessions kept (their newest 1,000)."""
    per_type: dict[str, list[float]] = {}
    for session in v2g_sessions:
        for name, samples in session.get("answer_us", {}).items():
            per_type.setdefault(name, []).extend(us / 1000.0 for us in samples)
    out = {}
    for name, values in per_type.items():
        reported = [s["answer_times"][name] for s in v2g_sessions if name in s.get("answer_times", {})]
        out[name] = summarize_ms(sorted(values), sum(r["count"] for r in reported),
                                 max(r["max_ms"] for r in reported))
    return out


def car_round_trips(v2g: RigV2gLink) -> dict:
    """The car's view: request to answer, per request type (ms)."""
    per_type: dict[str, list[float]] = {}
    for link in v2g.car_links:
        for exchange in link.exchanges:
            per_type.setdefault(exchange["request"], []).append(exchange["round_trip_s"] * 1000.0)
    return {name: summarize_ms(sorted(values)) for name, values in per_type.items()}


def _virtual_can(setup: RigSetup, can_override: tuple[str, str] | None) -> bool:
    if can_override is not None:
        return can_override[0] == "virtual"
    return any(c.interface == "virtual" for c in setup.cabinet_config.can.values())


def first_source(connectors: list[dict]) -> str:
    sources = {c["energy_source"] for c in connectors}
    return sources.pop() if len(sources) == 1 else "mixed"


async def run_scenario(name: str, setup: RigSetup, *, report_path: str | None = None,
                       on_run: Callable[[ScenarioRun], None] | None = None, injections: tuple = (),
                       ocpp_profile: int | None = None, **kwargs) -> tuple[dict, list[str]]:
    """Run and judge; with `report_path`, the time series (CSV) and its plot (PNG) go next to that report.
    `on_run` gets the run before it starts (hil/interrupted_run.py reports what it saw after a Ctrl-C).
    `injections` (hil/injection, --inject): faults made at the wires; the run is then judged on them.
    `ocpp_profile` (--ocpp-profile): the rig's CSMS over that security profile, for any scenario."""
    scenario = SCENARIOS[name]
    if ocpp_profile is not None:
        scenario = with_ocpp(scenario, ocpp_profile)
    outside: OutsideCsms | None = kwargs.get("outside_csms")
    if outside is not None:  # judged without the rig's CSMS; the controller gets the outside one's overrides
        scenario = outside.prepare(scenario, setup.cabinet_config.ocpp)
    try:
        if injections:
            from hil.injection.run import InjectedRun
            from hil.injection.verdict import judge_injected
            run = InjectedRun(scenario, setup, injections=tuple(injections), **kwargs)
        else:
            run = ScenarioRun(scenario, setup, **kwargs)
        if on_run is not None:
            on_run(run)
        report = await run.run()
    finally:
        if outside is not None:
            outside.cleanup()  # the password file was for this run only
    if report_path:
        title = f"{scenario.name} on {setup.name} ({report['protocol']}): {report['result']}"
        report["files"] = await asyncio.to_thread(write_series, run.series.rows, report_path, title)
    return report, (judge_injected if injections else judge)(scenario, report)
