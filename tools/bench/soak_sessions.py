"""The soak's session driver: one controller (in this process) on the `nevi` rig, sessions on all four ports
at once, round after round, over V2G loopback links (DIN or ISO-2 per session).

Each session ends one of these ways, drawn from a seeded generator:
  full           the car charges to its target SoC and stops
  car_stop       the car stops early (ev-stop)
  console_stop   the charger is asked to stop, as the console's `stop` does (request_stop)
  unplug         the cable is pulled while charging
  cp-e, lock-fail, ev-silent, imd-alarm
                 a fault made at the wires while charging (as hil/injection makes it) that clears on unplug

After every session the car is unplugged, whatever the rig changed is put back, and the port must be
`available` again before its next session. The controller is only met on its wires and through its events.
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from controller.formats.events import (Event, FaultCleared, FaultRaised, PhaseChanged, SessionEnded,
                                       SessionStarted)
from hil.controller_handle import InProcessController
from hil.ev.car import CarPlan, SimulatedCar
from hil.ev.evcc.profile import load_profile
from hil.ev.evcc.rig_link import RigV2gLink
from hil.rig import Rig
from hil.setup import RigSetup, cabinet_path, load_setup, private_can

SETUP = "nevi"
PROTOCOLS = ("din", "iso2")
STOPS = ("full", "car_stop", "console_stop", "unplug")
FAULTS = {"cp-e": "CP_STATE_E", "lock-fail": "CONNECTOR_LOCK_FAILURE", "ev-silent": "EV_TIMEOUT",
          "imd-alarm": "ISOLATION_FAULT"}
# how often each ending is drawn: most sessions end normally, about one in five with a fault
WEIGHTS = {"full": 30, "car_stop": 15, "console_stop": 15, "unplug": 15,
           "cp-e": 7, "lock-fail": 6, "ev-silent": 6, "imd-alarm": 6}
# fast physics: a small battery and a steep current ramp keep a session to a few seconds
FAST_OVERRIDES = ("charging.ramp_up_a_per_s=2000.0",)
CAR_CAPACITY_KWH = 0.1
CAR_START_SOC, CAR_TARGET_SOC = 30.0, 55.0
ACT_AFTER_CHARGING_S = 0.3  # a stop, an unplug or a fault comes this long into charging
SESSION_TIMEOUT_S = 60.0
AVAILABLE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SessionPlan:
    index: int
    connector: int
    protocol: str
    ending: str


def plan_sessions(count: int, connector_ids: list[int], seed: int) -> list[SessionPlan]:
    """`count` sessions dealt round-robin over the ports; protocol and ending drawn from `seed`."""
    rng = random.Random(seed)
    endings, weights = list(WEIGHTS), list(WEIGHTS.values())
    return [SessionPlan(i, connector_ids[i % len(connector_ids)], rng.choice(PROTOCOLS),
                        rng.choices(endings, weights)[0]) for i in range(count)]


def soak_setup(store_path: Path, extra_overrides: tuple[str, ...] = ()) -> RigSetup:
    overrides = (*FAST_OVERRIDES, f'store.path="{store_path}"', *extra_overrides)
    setup = load_setup(SETUP, overrides)
    return replace(setup, car=replace(setup.car, capacity_kwh=CAR_CAPACITY_KWH, initial_soc=CAR_START_SOC,
                                      target_soc=CAR_TARGET_SOC))


@dataclass
class PortView:
    """What the events said about one port; only counters and the latest values (nothing grows per session
    except `ended`, a few numbers per session that the store check needs)."""
    state: str = "unknown"
    started: int = 0
    ended: list[tuple[float, str]] = field(default_factory=list)  # (energy_kwh, stop_reason) per session
    last_fault_codes: tuple[str, ...] = ()  # of the last session that ended
    fault_codes: set[str] = field(default_factory=set)  # active now


class SoakRun:
    def __init__(self, setup: RigSetup):
        self.setup = setup
        self.ids = [c.id for c in setup.cabinet_config.connectors]
        self._can = private_can(setup)
        self.rig = Rig(setup, self._can)
        self.v2g = RigV2gLink("din", self.ids, "loopback")
        self._profiles = {p: load_profile(p) for p in PROTOCOLS}
        self.ports = {cid: PortView() for cid in self.ids}
        self.controller: InProcessController | None = None
        # counters for the whole run, the last few sessions in full: nothing of the driver grows per session
        # (it shares the process whose memory is measured) except `PortView.ended`, a pair of numbers each
        self.tally: Counter = Counter()
        self.unexpected: deque[dict] = deque(maxlen=20)  # a normal session the car did not finish, and the like
        self.outcomes: deque[dict] = deque(maxlen=16)
        self._isolation_ohm = {cid: plant.isolation_ohm for cid, plant in self.rig.plants.items()}

    def on_event(self, event: Event) -> None:
        port = self.ports.get(getattr(event, "connector", None))
        if port is None:
            return
        match event:
            case PhaseChanged(state=state):
                port.state = state
            case SessionStarted():
                port.started += 1
            case SessionEnded(energy_kwh=energy_kwh, stop_reason=stop_reason, fault_codes=fault_codes):
                port.ended.append((energy_kwh, stop_reason))
                port.last_fault_codes = tuple(fault_codes)
            case FaultRaised(code=code):
                port.fault_codes.add(code)
            case FaultCleared(code=code):
                port.fault_codes.discard(code)

    async def start(self) -> None:
        from controller.formats.cabinet.config import load_config

        await self.rig.start()
        await self.v2g.open()
        config = load_config(cabinet_path(self.setup), (*self.setup.overrides, *self.rig.config_overrides()))
        self.controller = InProcessController(config, self._can, self.on_event)
        self.controller.app.build()
        await self.v2g.attach(self.controller.app)
        await self.controller.start()
        await _wait_for(lambda: all(p.state == "available" for p in self.ports.values()), 30.0,
                        "every port available")

    async def stop(self) -> None:
        try:
            if self.controller is not None:
                await self.controller.stop()
        finally:
            await self.v2g.close()
            await self.rig.stop()

    async def run_round(self, plans: list[SessionPlan]) -> None:
        """One session per port, all at once; returns when every port is available again."""
        await asyncio.gather(*(self._session(p) for p in plans))
        # the rig's bookkeeping (finished car links, the IMD's accepted writes) would grow with the soak
        self.v2g.car_links.clear()
        for sim in [*self.rig.meter_sims.values(), *self.rig.imd_sims.values()]:
            sim.writes.clear()

    async def _session(self, plan: SessionPlan) -> None:
        cid, port = plan.connector, self.ports[plan.connector]
        started, ended = port.started, len(port.ended)
        self.v2g.profile = self._profiles[plan.protocol]  # the next car link offers this protocol only
        car = self.rig.new_car(cid, self.v2g.car_link(cid))
        car_plan = CarPlan(target_soc=self.setup.car.target_soc, request_period_s=self.setup.car.request_period_s)
        if plan.ending == "car_stop":
            car_plan = replace(car_plan, stop_after_charging_s=ACT_AFTER_CHARGING_S)
        elif plan.ending == "unplug":
            car_plan = replace(car_plan, unplug_after_charging_s=ACT_AFTER_CHARGING_S)
        t0 = time.monotonic()
        task = asyncio.create_task(car.run(car_plan), name=f"soak-car-{cid}")
        acted = None
        try:
            if plan.ending == "console_stop" or plan.ending in FAULTS:
                acted = await self._act(plan, car, task)
            outcome = await asyncio.wait_for(task, SESSION_TIMEOUT_S)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if self.rig.plants[cid].ev_cp_state != "A":
                car.unplug()
            self._put_back(cid)
        await _wait_for(lambda: port.state == "available" and len(port.ended) > ended, AVAILABLE_TIMEOUT_S,
                        f"connector {cid} available after session {plan.index} ({plan.ending})")
        record = {"index": plan.index, "connector": cid, "protocol": plan.protocol,
                  "ending": plan.ending, "car_ok": outcome.ok, "car_reason": outcome.reason[:80],
                  "acted": acted, "sessions_started": port.started - started,
                  "energy_kwh": port.ended[-1][0], "stop_reason": port.ended[-1][1],
                  "fault_codes": port.last_fault_codes,
                  "s": round(time.monotonic() - t0, 2), "load1": round(os.getloadavg()[0], 2)}
        self.outcomes.append(record)
        self.tally[f"ending {plan.ending}"] += 1
        self.tally[f"protocol {plan.protocol}"] += 1
        self.tally["fault or stop not made (session ended first)"] += acted is False
        # a fault must end its session with its code (an error stops through the protocol: the car may still
        # finish cleanly); a session without one must be finished by the car
        if plan.ending in FAULTS and acted:
            expected = FAULTS[plan.ending] in port.last_fault_codes
        else:
            expected = outcome.ok
        if not expected or port.started - started != 1:
            self.tally["unexpected"] += 1
            self.unexpected.append(record)

    async def _act(self, plan: SessionPlan, car: SimulatedCar, task: asyncio.Task) -> bool:
        """Stop or fault while charging; False when the session ended before it got there."""
        await _wait_for(lambda: car.charging_started_t is not None or task.done(), SESSION_TIMEOUT_S,
                        f"session {plan.index} charging")
        if task.done():
            return False
        await asyncio.sleep(ACT_AFTER_CHARGING_S)
        if task.done():
            return False
        cid = plan.connector
        if plan.ending == "console_stop":
            return self.controller.request_stop(cid)
        if plan.ending == "cp-e":
            self.rig.io_sims[cid].cp_forced = "E"
        elif plan.ending == "lock-fail":
            self.rig.io_sims[cid].lock_fault = True
        elif plan.ending == "imd-alarm":
            self.rig.plants[cid].isolation_ohm = 40e3
        elif plan.ending == "ev-silent":
            car.silent = True
            code = FAULTS["ev-silent"]
            try:
                await _wait_for(lambda: code in self.ports[cid].fault_codes or task.done(), 10.0, code)
            finally:
                car.silent = False  # the car gives the session up
        return True

    def _put_back(self, cid: int) -> None:
        """Undo what a fault changed in the rig, as the technician's repair would, with the cable out."""
        board = self.rig.io_sims[cid]
        board.cp_forced = None
        board.lock_fault = False
        self.rig.plants[cid].isolation_ohm = self._isolation_ohm[cid]


async def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
