"""The kill soak's rounds: the controller as its own process, killed with SIGKILL at a random instant of a
session, then restarted on the same store; the rig (desk setup, DIN over veth, CAN over udp_multicast) runs
in this process the whole time and is never restarted. Runs inside a private network namespace
(tools/bench/kill_soak.py makes it).

Each round: plug a car; kill at a random instant (uniform over the session, or 0-20 ms after an event the
store writes: session start and end, a phase); check the cabinet went safe by itself (the I/O board's
watchdog tripped: contactors open, CP F, the modules off by their own timeout); read the store as the dead
controller left it; unplug; restart; check the store after recovery and the clean start (trip reset).
"""
from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from controller.formats.events import ControllerStarted, Event, PhaseChanged, SessionEnded, SessionStarted
from controller.store import queries
from controller.store.database_file import connect
from controller.store.recovery import INTERRUPTED_REASON, REASON_CRASH
from hil.controller_handle import SubprocessController
from hil.ev.car import CarPlan
from hil.ev.evcc.rig_link import RigV2gLink
from hil.rig import Rig
from hil.setup import cabinet_path, load_setup
from tools.bench.kill_soak_csms import SoakCsms

SETUP = "desk"
CID = 1
OVERRIDES = ("charging.ramp_up_a_per_s=1000.0", "store.heartbeat_s=1.0")
CAR_CAPACITY_KWH = 0.08  # about 3 s of charging: the checkpoints (every second) see energy
SESSION_SPAN_S = 7.0  # plug to unplug of a whole session, about: the kills are spread over it
STORE_WRITE_SHARE = 0.3  # of the kills: right after an event the store writes
START_TIMEOUT_S = 40.0
TRIP_TIMEOUT_S = 2.0  # the board watchdog is 0.3 s
MODULES_OFF_TIMEOUT_S = 3.0  # the modules' own timeout without commands is 1 s


class RoundFailed(AssertionError):
    pass


@dataclass
class Events:
    """What the controller process of the current life said (a new one per start)."""
    state: str = "unknown"
    started: bool = False
    kinds: list[str] = field(default_factory=list)
    ended: list[dict] = field(default_factory=list)
    store_write_t: float | None = None  # when the last store-written event came

    def __call__(self, event: Event) -> None:
        self.kinds.append(event.KIND)
        match event:
            case ControllerStarted():
                self.started = True
            case PhaseChanged(connector=connector, state=state) if connector == CID:
                self.state = state
            case SessionEnded():
                self.ended.append(event.json_fields())
        if isinstance(event, (SessionStarted, SessionEnded, PhaseChanged)):
            self.store_write_t = time.monotonic()


def read_store(path: Path) -> dict:
    conn = connect(path, read_only=True)
    try:
        return {"sessions": {s["id"]: s for s in queries.recent_sessions(conn, 100_000, None)},
                "outages": queries.outages(conn, None, None, time.time()),
                "events": queries.recent_events(conn, 50, None)}
    finally:
        conn.close()


class KillSoak:
    def __init__(self, store_path: Path, seed: int):
        self.rng = random.Random(seed)
        self.store_path = store_path
        setup = load_setup(SETUP, (*OVERRIDES, f'store.path="{store_path}"'))
        self.setup = replace(setup, car=replace(setup.car, capacity_kwh=CAR_CAPACITY_KWH, target_soc=90.0))
        self.can: tuple[str, str] | None = None
        self.rig: Rig | None = None
        self.v2g = RigV2gLink("din", [CID], "veth", separate_process=True)
        self.controller: SubprocessController | None = None
        self.events = Events()
        self.rounds: list[dict] = []
        self.csms = SoakCsms()  # the controller's transactions over OCPP: none lost or repeated across kills
        self._ocpp_overrides: list[str] = []

    async def start(self, can: tuple[str, str]) -> None:
        self.can = can
        self.rig = Rig(self.setup, can)
        self._ocpp_overrides = await self.csms.start()
        await self.rig.start()
        await self.v2g.open()
        await self._start_controller()

    async def _start_controller(self) -> float:
        t0 = time.monotonic()
        self.events = Events()
        overrides = [*self.setup.overrides, *self.rig.config_overrides(), *self.v2g.controller_overrides(),
                     *self._ocpp_overrides]
        self.controller = SubprocessController(cabinet_path(self.setup), self.can, self.events, overrides)
        await self.controller.start()
        await _until(lambda: self.events.started and self.events.state == "available", START_TIMEOUT_S,
                     "the controller started and its connector available")
        return time.monotonic() - t0

    async def stop(self) -> None:
        if self.controller is not None:
            await self.controller.stop()
        await self.v2g.close()
        if self.rig is not None:
            await self.rig.stop()
        await self.csms.stop()

    async def one_round(self, index: int) -> dict:
        board, plant = self.rig.io_sims[CID], self.rig.plants[CID]
        trips_before = len(board.trips)
        by_event = self.rng.random() < STORE_WRITE_SHARE
        delay = self.rng.uniform(0.0, 0.02) if by_event else self.rng.uniform(0.0, SESSION_SPAN_S)
        car = self.rig.new_car(CID, self.v2g.car_link(CID))
        plan = CarPlan(target_soc=self.setup.car.target_soc, request_period_s=self.setup.car.request_period_s)
        car_task = asyncio.create_task(car.run(plan), name="kill-soak-car")
        plugged_t = time.monotonic()
        if by_event:  # right after the n-th store-written event of this session
            nth = self.rng.randrange(1, 12)
            seen = self.events.kinds.copy()
            await _until(lambda: _writes(self.events.kinds[len(seen):]) >= nth or car_task.done(), 30.0, "events")
            await asyncio.sleep(delay)
        else:
            await _wait_or_done(car_task, delay)
        if car_task.done() and plant.ev_cp_state != "A":
            car.unplug()  # the session is over: the kill lands with the port idle, the car gone
        state_at_kill = self.events.state
        ended_events = list(self.events.ended)
        killed_t = time.time()
        await self.controller.crash()  # SIGKILL
        assert self.controller.proc.returncode == -signal.SIGKILL
        rnd = {"round": index, "kill": "store_write" if by_event else "uniform",
               "after_plug_s": round(time.monotonic() - plugged_t, 3), "state_at_kill": state_at_kill}
        rnd["safe"] = await self._check_safe(board, plant, trips_before, state_at_kill)
        before = read_store(self.store_path)
        car_task.cancel()
        await asyncio.gather(car_task, return_exceptions=True)
        if plant.ev_cp_state != "A":
            car.unplug()
        await asyncio.sleep(self.rng.uniform(0.0, 0.5))
        rnd["restart_s"] = round(await self._start_controller(), 2)
        after = read_store(self.store_path)
        rnd.update(self._check_store(before, after, killed_t, ended_events))
        rnd["clean_start"] = self._check_clean_start(board, plant)
        self.v2g.car_links.clear()
        self.rounds.append(rnd)
        return rnd

    async def _check_safe(self, board, plant, trips_before: int, state: str) -> dict:
        """The board trips by its own watchdog (there is no controller to send heartbeats), opens the
        contactors and shows CP F; the modules switch off by their own timeout."""
        try:
            await _until(lambda: len(board.trips) > trips_before, TRIP_TIMEOUT_S, "the I/O board's trip")
        except TimeoutError:
            raise RoundFailed(f"killed in {state}: the I/O board did not trip within {TRIP_TIMEOUT_S} s") from None
        modules = self.rig.module_models[CID]
        try:
            await _until(lambda: not any(m.on for m in modules) and plant.output_current_a < 1.0,
                         MODULES_OFF_TIMEOUT_S, "the modules off")
        except TimeoutError:
            raise RoundFailed(f"killed in {state}: modules still on or current flowing") from None
        if plant.dc_plus_closed or plant.dc_minus_closed or board.cp_state != "F":
            raise RoundFailed(f"killed in {state}: contactors {plant.dc_plus_closed}/{plant.dc_minus_closed}, "
                              f"CP {board.cp_state} after the trip")
        return {"trip": board.trips[-1], "cp": board.cp_state}

    def _check_store(self, before: dict, after: dict, killed_t: float, ended_events: list[dict]) -> dict:
        """Every session the dead controller left is there once: ended ones unchanged, running ones
        interrupted with the energy of their last checkpoint; one crash outage covers the kill."""
        problems = []
        if set(after["sessions"]) != set(before["sessions"]):
            problems.append(f"sessions {sorted(before['sessions'])[-3:]} before, {sorted(after['sessions'])[-3:]} after")
        interrupted = []
        for sid, old in before["sessions"].items():
            new = after["sessions"].get(sid)
            if new is None:
                continue
            if old["status"] == "running":
                interrupted.append(sid)
                if (new["status"], new["stop_reason"]) != ("interrupted", INTERRUPTED_REASON):
                    problems.append(f"session {sid} was running, now {new['status']} / {new['stop_reason']}")
                if new["energy_kwh"] != old["energy_kwh"] or new["end_t"] is None or new["end_t"] > killed_t:
                    problems.append(f"session {sid}: {new['energy_kwh']} kWh ending {new['end_t']}, checkpoint "
                                    f"{old['energy_kwh']} kWh, killed at {killed_t}")
            elif {k: new[k] for k in ("status", "energy_kwh", "end_t")} != \
                    {k: old[k] for k in ("status", "energy_kwh", "end_t")}:
                problems.append(f"session {sid} changed at restart: {old['status']} -> {new['status']}")
        crash = [o for o in after["outages"] if o["reason"] == REASON_CRASH and o["start_t"] <= killed_t
                 and o["end_t"] is not None and o["end_t"] >= killed_t]
        # a port already out when the controller died (unavailable, emergency) keeps its own outage, open from
        # its start: it covers the downtime and no crash outage is added for it (recovery.py)
        out_at_kill = {o["id"] for o in before["outages"] if o["open"]}
        covering = [o for o in after["outages"] if o["id"] in out_at_kill and o["start_t"] <= killed_t
                    and (o["open"] or o["end_t"] >= killed_t)]
        if out_at_kill and (crash or len(covering) != len(out_at_kill)):
            problems.append(f"the port was out at the kill: {len(covering)} of its outages still cover it, "
                            f"{len(crash)} crash outages added (want all, none)")
        elif not out_at_kill and len(crash) != 1:
            problems.append(f"{len(crash)} crash outages cover the kill (want 1)")
        down = [e for e in after["events"] if e["kind"] == "controller_down"]
        interrupted.sort()
        if not down or down[0]["data"]["interrupted_sessions"] != interrupted:
            problems.append(f"controller_down event: {down[:1]} (interrupted {interrupted})")
        # a session_ended event the controller printed whose end was not yet committed when it died: booked
        # interrupted (with its last checkpoint), as a power cut at that instant would leave it
        latest = before["sessions"].get(max(before["sessions"], default=None))
        end_not_durable = bool(ended_events) and latest is not None and latest["status"] == "running"
        if problems:
            raise RoundFailed("; ".join(problems))
        return {"interrupted": interrupted,
                "interrupted_energy_kwh": [after["sessions"][sid]["energy_kwh"] for sid in interrupted],
                "end_events_seen": len(ended_events), "end_not_durable_at_kill": end_not_durable,
                "port_out_at_kill": bool(out_at_kill),
                "downtime_s": round(crash[0]["end_t"] - crash[0]["start_t"], 2) if crash else None}

    def _check_clean_start(self, board, plant) -> dict:
        if board.watchdog_tripped or plant.dc_plus_closed or plant.dc_minus_closed:
            raise RoundFailed(f"after the restart: board trip {board.trip_cause}, contactors "
                              f"{plant.dc_plus_closed}/{plant.dc_minus_closed}")
        return {"trip_reset": True, "cp": board.cp_state}


def _writes(kinds: list[str]) -> int:
    return sum(k in ("session_started", "session_ended", "phase") for k in kinds)


async def _wait_or_done(task: asyncio.Task, seconds: float) -> None:
    await asyncio.wait([task], timeout=seconds)


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
