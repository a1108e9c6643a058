"""The bench's cabinet: the rig, the controller under test and one simulated car per connector.

Layouts: `in_process` (controller app in this event loop, the rig's own loop work shares it) or
`separate_process` (`charger-controller` as a child process; needs a CAN channel both processes share,
i.e. udp_multicast inside a private namespace). Either way the controller is seen only through its events
and the wires, as the HIL runner sees it.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from controller.formats.cabinet.config import load_config
from hil.controller_handle import InProcessController, SubprocessController
from hil.ev.car import CarPlan, SimulatedCar
from hil.rig import Rig
from hil.runner import RunState
from hil.setup import cabinet_path, load_setup
from tools.bench.modbus_tap import ModbusTap

LAYOUTS = ("in_process", "separate_process")
START_TIMEOUT_S = 15.0
CHARGING_TIMEOUT_S = 20.0


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)


class CabinetRun:
    def __init__(self, setup_name: str, layout: str, can_override: tuple[str, str] | None = None,
                 tap_imds: bool = False):
        """`tap_imds`: put a ModbusTap between the controller and each IMD simulator (see `imd_taps`)."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        self.setup = load_setup(setup_name)
        self.layout = layout
        self.can_override = can_override
        self.rig = Rig(self.setup, can_override)
        self.state = RunState(t0=time.time())
        self.controller: InProcessController | SubprocessController | None = None
        self.cars: dict[int, SimulatedCar] = {}
        self._car_tasks: dict[int, asyncio.Task] = {}
        self.spawned_t: float | None = None  # wall clock just before the controller was started
        self.available_t: dict[int, float] = {}  # the controller's wall clock when each first became available
        self.started_t: float | None = None  # wall clock when the "started" event arrived (no time stamp of its own)
        self.tap_imds = tap_imds
        self.imd_taps: dict[int, ModbusTap] = {}

    @property
    def connector_ids(self) -> list[int]:
        return [c.id for c in self.setup.cabinet_config.connectors]

    def channels(self) -> list[tuple[str, str]]:
        """The (interface, channel) pairs the cabinet's CAN traffic is on."""
        if self.can_override:
            return [self.can_override]
        return [(c.interface, c.channel) for c in self.setup.cabinet_config.can.values()]

    @property
    def pid(self) -> int | None:
        proc = getattr(self.controller, "proc", None)
        return proc.pid if proc is not None else None

    def _on_event(self, kind: str, data: dict) -> None:
        self.state.on_event(kind, data)
        if kind == "started":
            self.started_t = time.time()
        if kind == "phase" and data.get("state") == "available":
            self.available_t.setdefault(data["connector"], float(data["t"]))

    async def start(self) -> None:
        """Rig up, controller started, every connector available with its EV link known."""
        await self.rig.start()
        overrides = self.rig.config_overrides()  # the controller's Modbus links point at the rig's simulators
        if self.tap_imds:
            for index, conn in enumerate(self.setup.cabinet_config.connectors):
                sim = self.rig.imd_sims.get(conn.id)
                if sim is not None:
                    tap = self.imd_taps[conn.id] = ModbusTap(sim.port)
                    overrides.append(f"connectors[{index}].imd.link.port={await tap.start()}")  # the last one wins
        if self.layout == "separate_process":
            self.controller = SubprocessController(cabinet_path(self.setup.name), self.can_override,
                                                   self._on_event, overrides)
        else:
            config = load_config(cabinet_path(self.setup.name), tuple(overrides))
            self.controller = InProcessController(config, self.can_override, self._on_event)
        self.spawned_t = time.time()
        await self.controller.start()
        ids = self.connector_ids
        await wait_until(lambda: all(i in self.available_t and i in self.state.ev_links for i in ids),
                         START_TIMEOUT_S, "every connector available")

    async def charge(self) -> None:
        """Plug a car into every connector and wait until all of them charge."""
        car_cfg = self.setup.car
        plan = CarPlan(target_soc=car_cfg.target_soc, request_period_s=car_cfg.request_period_s)
        for cid in self.connector_ids:
            car = self.rig.new_car(cid, *self.state.ev_links[cid])
            self.cars[cid] = car
            self._car_tasks[cid] = asyncio.create_task(car.run(plan), name=f"car-{cid}")
        await wait_until(self._all_charging, CHARGING_TIMEOUT_S, "every car charging")

    def _all_charging(self) -> bool:
        for cid, task in self._car_tasks.items():
            if self.cars[cid].charging_started_t is None and task.done():
                outcome = task.result()
                raise RuntimeError(f"car on connector {cid} ended before charging: {outcome.reason}")
        return all(car.charging_started_t is not None for car in self.cars.values())

    async def close(self) -> None:
        for task in self._car_tasks.values():
            task.cancel()
        await asyncio.gather(*self._car_tasks.values(), return_exceptions=True)
        self._car_tasks.clear()
        try:
            if self.controller is not None:
                await self.controller.stop()
        finally:
            for tap in self.imd_taps.values():
                await tap.stop()
            await self.rig.stop()
