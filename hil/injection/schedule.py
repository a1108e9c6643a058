"""One injection: armed on the connector's phase, made at the wires, then watched from the rig's side.

The moment: the controller's `phase` event for the connector (acted on in the call that delivers it, so a
short phase such as `stopping` is not missed), or, for a controller that reports no events, the car's own
phase. Time to safe: from the injection (or, when the output was not live then, from the moment it went live)
to the rig sample from which on every module of the connector stays off, the contactors open (for a weld:
released by the board's command, since the contacts cannot open) and the plant current below 1 A. Samples
every SAMPLE_S; the figure's resolution is that plus the plant's physics tick.
"""
from __future__ import annotations

import asyncio
import time

from controller.formats.events import Event, PhaseChanged
from hil.injection.kinds import PHASE_STATES
from hil.injection.spec import InjectionSpec

SAMPLE_S = 0.002
WATCH_S = 15.0  # longest wait for a safe state before the record says it never came
SETTLE_S = 0.5  # safe this long: the reaction is over
NEVER_ENERGIZED_S = 3.0
SAFE_CURRENT_A = 1.0


class ScheduledInjection:
    def __init__(self, run, spec: InjectionSpec, connector_id: int):
        self.run = run
        self.spec = spec
        self.cid = connector_id
        self.armed = False
        self.made_mono: float | None = None
        self.safe_event = asyncio.Event()
        self.record: dict = {"inject": spec.text, "kind": spec.kind.name, "phase": spec.phase,
                             "connector": connector_id, "argument": spec.argument, "done": False, "t": None,
                             "fault_code": None, "codes": [], "time_to_safe_ms": None, "peak_voltage_v": None,
                             "car_max_voltage_v": None}
        self._timer: asyncio.TimerHandle | None = None

    # ---- the moment ---------------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, PhaseChanged) and event.connector == self.cid and event.state == PHASE_STATES[
                self.spec.phase]:
            self._arm()

    async def follow_car(self) -> None:
        """For a controller without events: the car's phase says when."""
        while not self.armed:
            car = self.run.cars.get(self.cid)
            if car is not None and car.phase == PHASE_STATES[self.spec.phase]:
                self._arm()
            await asyncio.sleep(SAMPLE_S)

    def _arm(self) -> None:
        if self.armed:
            return
        self.armed = True
        if self.spec.delay_s <= 0.0:
            self.make()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.spec.delay_s, self.make)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    # ---- the fault and what follows ----------------------------------------------------------------------
    def make(self) -> None:
        run = self.run
        self.made_mono = time.monotonic()
        self.record["t"] = round(time.time() - run.state.t0, 3)
        self.record["state_at_injection"] = run.state.states.get(self.cid) if run.controller.reports_events \
            else getattr(run.cars.get(self.cid), "phase", None)
        try:
            self.spec.kind.apply(run, self.cid, self.spec.argument)
        except Exception as exc:  # the report says so; the verdict fails on an injection never made
            self.record["error"] = f"{exc.__class__.__name__}: {exc}"
            return
        self.record["done"] = True
        car = run.cars.get(self.cid)
        if car is not None:
            self.record["car_max_voltage_v"] = car.battery.max_voltage_v
        run.background(self._watch())

    def _safe(self) -> bool:
        rig = self.run.rig
        plant, board = rig.plants[self.cid], rig.io_sims[self.cid]
        if any(m.on for m in rig.module_models[self.cid]) or plant.output_current_a >= SAFE_CURRENT_A:
            return False
        if board.welded:  # the contacts cannot open: the board's coils released is what the controller can do
            return not board.close_requested
        return not (plant.dc_plus_closed or plant.dc_minus_closed)

    async def _watch(self) -> None:
        """Until the connector has stayed safe for SETTLE_S (NEVER_ENERGIZED_S if it never was energized since
        the injection: a cable check may switch on a moment later). A fault made before the output is live
        takes effect when it goes live: the figure counts from then. Never energized: 0 ms."""
        plant = self.run.rig.plants[self.cid]
        peak = plant.cable_voltage_v
        now = self.made_mono
        effective: float | None = None
        safe_since: float | None = None
        try:
            while now < self.made_mono + WATCH_S:
                now = time.monotonic()
                peak = max(peak, plant.cable_voltage_v)
                self.record["peak_voltage_v"] = round(peak, 1)
                if not self._safe():
                    effective = effective or now
                    safe_since = None
                else:
                    safe_since = safe_since or now
                    if now - safe_since >= (SETTLE_S if effective else NEVER_ENERGIZED_S):
                        self.record["time_to_safe_ms"] = round((safe_since - (effective or safe_since)) * 1e3, 1)
                        self.record["energized_after_injection"] = effective is not None
                        break
                await asyncio.sleep(SAMPLE_S)
        finally:
            self.safe_event.set()
            if self.spec.kind.release is not None:  # e.g. a silent car gives up once the rig saw the outcome
                self.spec.kind.release(self.run, self.cid)

    def codes_after(self, faults: list[dict]) -> None:
        """Fill in the codes the controller raised on this connector from the injection on."""
        if self.record["t"] is None:
            return
        codes = []
        for f in faults:
            if f.get("connector") in (self.cid, None) and f["t"] >= self.record["t"] - 0.005 \
                    and f["code"] not in codes:
                codes.append(f["code"])
        self.record["codes"] = codes
        expected = self.spec.kind.expected_codes(self.spec.phase)
        self.record["fault_code"] = next((c for c in codes if c in expected), codes[0] if codes else None)
