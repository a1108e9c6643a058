"""A scenario run with `--inject` faults: the scenario's car, the injections on its connector, then a new
session to see whether the port refuses it while a blocking fault stays active.

The new session: after the first car's session ended and the runner unplugged it, a fresh car plugs in on
the same connector (a re-plug: a fault that clears on unplug may then let it charge) and tries to charge for a
short while. Refused means the rig saw no module on and no contactor closed during the whole attempt.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

from controller.formats.events import Event, FaultCleared, FaultRaised
from hil.ev.car import CarPlan
from hil.injection.schedule import ScheduledInjection
from hil.injection.spec import InjectionSpec
from hil.runner import RunState, ScenarioRun

RETRY_PHASE_TIMEOUT_S = 3.0  # the new car's wait for each step: a refusing port never gets it further
RETRY_LIMIT_S = 20.0
STOPPING_AFTER_S = 1.0  # with an injection in `stopping`, the car stops this long after charging began
# otherwise the car charges at most this long after the last injection's delay: longer than the slowest
# detection the matrix allows (a shorter charge would end the session before a slow controller reacts)
CHARGE_AFTER_S = 10.0


@dataclass
class InjectionState(RunState):
    """RunState that also follows which faults are active now, and tells the injections about each event."""
    active: dict[int, dict[str, str]] = field(default_factory=dict)  # connector -> code -> severity
    listeners: list = field(default_factory=list)

    def on_event(self, event: Event) -> None:
        match event:
            case FaultRaised(connector=connector, code=code, severity=severity):
                self.active.setdefault(connector, {})[code] = severity
            case FaultCleared(connector=connector, code=code):
                self.active.setdefault(connector, {}).pop(code, None)
        super().on_event(event)
        for listener in self.listeners:
            listener(event)


class InjectedRun(ScenarioRun):
    def __init__(self, scenario, setup, *, injections: tuple[InjectionSpec, ...], new_session: bool = True,
                 **kwargs):
        super().__init__(_capped(scenario, injections), setup, **kwargs)
        self.try_new_session = new_session  # False: no second car (the time-to-safe bench needs none)
        self.state = InjectionState(t0=self.state.t0)
        cid = setup.cabinet_config.connectors[0].id
        self.injections = [ScheduledInjection(self, spec, cid) for spec in injections]
        self.state.listeners += [i.on_event for i in self.injections]
        self.new_session: dict | None = None
        self._background: set[asyncio.Task] = set()

    def background(self, coroutine) -> None:
        """A task of the injections (watchers, temperature ramps), cancelled with the run."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drive(self, ids: list[int]):
        if not self.controller.reports_events:
            for injection in self.injections:
                self.background(injection.follow_car())
        try:
            outcomes = await super()._drive(ids)
            made = [i for i in self.injections if i.record["done"]]
            for injection in made:  # every watcher has its figure before the new session starts
                await injection.safe_event.wait()
            if made and self.try_new_session:
                await self._new_session(made[0].cid)
        finally:
            for injection in self.injections:
                injection.cancel()
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
        return outcomes

    async def _new_session(self, cid: int) -> None:
        blocking = {code for code, severity in self.state.active.get(cid, {}).items() if severity != "warning"}
        if self.rig.plants[cid].ev_cp_state != "A":
            self.cars[cid].unplug()
            await asyncio.sleep(0.5)
        car = self.rig.new_car(cid, self.v2g.car_link(cid))
        soc = car.battery.soc_percent
        plan = CarPlan(target_soc=min(99.0, soc + 20.0), request_period_s=self.setup.car.request_period_s,
                       stop_after_charging_s=0.3, phase_timeout_s=RETRY_PHASE_TIMEOUT_S)
        started = time.time()
        task = asyncio.create_task(car.run(plan))
        energized = False
        deadline = time.monotonic() + RETRY_LIMIT_S
        while not task.done() and time.monotonic() < deadline:
            energized = energized or self._energized(cid)
            await asyncio.sleep(0.005)
        if not task.done():
            car.unplug()
            task.cancel()
        outcome = (await asyncio.gather(task, return_exceptions=True))[0]
        car.unplug()
        await asyncio.sleep(0.5)
        self.new_session = {
            "t": round(started - self.state.t0, 3), "how": "re-plug",
            "blocking_faults_active": sorted(blocking), "energized": energized,
            "charged": car.charging_started_t is not None, "refused": not energized and car.charging_started_t is None,
            "car": getattr(outcome, "reason", repr(outcome)),
        }
        for final_cid in self.finals:
            self.finals[final_cid].update(self.rig.final_state(final_cid))

    def _energized(self, cid: int) -> bool:
        """Modules on or a contactor coil driven (welded contacts are closed whatever the controller does)."""
        plant, board = self.rig.plants[cid], self.rig.io_sims[cid]
        closed = (plant.dc_plus_closed or plant.dc_minus_closed) and not board.welded
        return closed or board.close_requested or any(m.on for m in self.rig.module_models[cid])

    def _report(self, outcomes) -> dict:
        report = super()._report(outcomes)
        records = []
        for injection in self.injections:
            injection.codes_after(self.state.faults)
            record = dict(injection.record)
            if self.new_session is not None:
                active = set(self.new_session["blocking_faults_active"])
                record["fault_active_at_new_session"] = sorted(active & set(record["codes"]))
                record["new_session_refused"] = self.new_session["refused"]
            records.append(record)
        report["injections"] = records
        report["new_session"] = self.new_session
        return report


def _capped(scenario, injections: tuple[InjectionSpec, ...]):
    """The first car ends its charge soon after the injections: the run need not wait for a full battery
    (and a `stopping` injection needs a stop)."""
    if not injections or "stop_after_charging_s" in scenario.plan or "unplug_after_charging_s" in scenario.plan:
        return scenario
    if any(s.phase == "stopping" for s in injections):
        after = STOPPING_AFTER_S
    else:
        after = max(s.delay_s for s in injections if s.phase == "charging") + CHARGE_AFTER_S \
            if any(s.phase == "charging" for s in injections) else CHARGE_AFTER_S
    return replace(scenario, plan={**scenario.plan, "stop_after_charging_s": after})
