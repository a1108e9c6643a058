"""The rig's car: presents CP states on the plant, switches its own contactor, and walks the DC
phases over the EV-session link the way a DIN 70121 car does (repeat while Ongoing, CurrentDemand loop)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

from hil.ev.battery import BatteryModel
from hil.ev.link import EvLinkClient, EvLinkError
from hil.plant import ConnectorPlant


@dataclass
class CarPlan:
    target_soc: float = 80.0
    evcc_id: str = "0465650064c3"
    stop_after_charging_s: float | None = None  # the driver ends the session early (ev-stop)
    unplug_after_charging_s: float | None = None  # the cable is pulled while charging
    request_period_s: float = 0.1
    phase_timeout_s: float = 20.0
    precharge_tolerance_v: float = 10.0


@dataclass
class CarOutcome:
    ok: bool
    reason: str
    phases: list[tuple[str, float]] = field(default_factory=list)


UNPLUGGED_LINK_SILENCE_S = 0.5  # well past the I/O board's next CP report (every 20 ms and on change)


class EvseRefused(RuntimeError):
    pass


class SimulatedCar:
    def __init__(self, plant: ConnectorPlant, battery: BatteryModel, link: EvLinkClient,
                 cp_duty: Callable[[], float], *, clock: Callable[[], float] = time.monotonic):
        self.plant = plant
        self.battery = battery
        self.link = link
        self.cp_duty = cp_duty
        self.clock = clock
        self.phase = "idle"
        self.phases: list[tuple[str, float]] = []
        self.last_answer: dict = {}
        self.charging_started_t: float | None = None
        # fault injection (hil/injection): a target voltage sent instead of the battery's, and silence
        self.target_voltage_override_v: float | None = None
        self.silent = False  # requests wait while set; when it is cleared the car gives the session up

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self.phases.append((phase, time.time()))

    async def run(self, plan: CarPlan) -> CarOutcome:
        try:
            reason = await self._session(plan)
            return CarOutcome(True, reason, self.phases)
        except (EvseRefused, EvLinkError, asyncio.TimeoutError) as exc:
            self._abort()
            return CarOutcome(False, str(exc) or exc.__class__.__name__, self.phases)
        finally:
            if self.phase == "unplugged" and self.plant.ev_cp_state == "A":
                # A pulled cable takes the powerline with it: the car's socket falls silent, it sends no
                # clean close that could reach the charger before CP A does.
                await asyncio.sleep(UNPLUGGED_LINK_SILENCE_S)
            await self.link.close()

    def plug(self) -> None:
        self.plant.battery = self.battery
        self.plant.ev_cp_state = "B"
        self._enter("plugged")

    def unplug(self) -> None:
        self.plant.ev_contactor_closed = False
        self.plant.ev_cp_state = "A"
        self._enter("unplugged")

    def _abort(self) -> None:
        self.plant.ev_contactor_closed = False
        if self.plant.ev_cp_state != "A":
            self.plant.ev_cp_state = "B"

    async def _ask(self, op: str, **fields) -> dict:
        if self.silent:
            while self.silent:
                await asyncio.sleep(0.05)
            raise EvseRefused(f"{op}: the car was silent (injected)")
        if self.target_voltage_override_v is not None and "target_voltage_v" in fields:
            fields["target_voltage_v"] = self.target_voltage_override_v
        answer = await self.link.request(op, **fields)
        self.last_answer = answer
        status = answer["status"]["status_code"]
        if answer["code"] != "OK" or status in ("EVSE_EmergencyShutdown", "EVSE_Malfunction"):
            raise EvseRefused(f"{op}: {answer['code']} / {status}")
        return answer

    async def _until(self, op: str, done: Callable[[dict], bool], plan: CarPlan, **fields) -> dict:
        deadline = self.clock() + plan.phase_timeout_s
        while True:
            answer = await self._ask(op, **fields)
            if done(answer):
                return answer
            if self.clock() > deadline:
                raise asyncio.TimeoutError(f"{op} did not finish")
            await asyncio.sleep(plan.request_period_s)

    async def _session(self, plan: CarPlan) -> str:
        self.plug()
        deadline = self.clock() + plan.phase_timeout_s
        while abs(self.cp_duty() - 5.0) > 0.5:  # digital communication requested
            if self.clock() > deadline:
                raise asyncio.TimeoutError("no 5 % PWM on CP")
            await asyncio.sleep(0.02)
        await self.link.connect()
        self._enter("session_setup")
        await self._ask("session_setup", evcc_id=plan.evcc_id)
        self._enter("authorization")
        finished = lambda a: a["processing"] == "Finished"  # noqa: E731
        await self._until("authorize", finished, plan)
        self._enter("parameter_discovery")
        b = self.battery
        await self._ask("charge_parameters", max_voltage_v=b.max_voltage_v, max_current_a=b.max_current_a,
                        soc_percent=round(b.soc_percent, 1), energy_capacity_wh=b.capacity_wh)
        self.plant.ev_cp_state = "C"
        self._enter("cable_check")
        await self._until("cable_check", finished, plan)
        self._enter("precharge")
        await self._until("precharge", lambda a: abs(a["present_voltage_v"] - b.open_circuit_voltage())
                          < plan.precharge_tolerance_v, plan,
                          target_voltage_v=round(b.open_circuit_voltage(), 1), target_current_a=2.0)
        self.plant.ev_contactor_closed = True
        await self._ask("power_delivery", start=True)
        self._enter("charging")
        reason = await self._charge(plan)
        if reason == "unplugged":
            return reason
        await self._finish(plan)
        return reason

    async def _charge(self, plan: CarPlan) -> str:
        b = self.battery
        self.charging_started_t = self.clock()
        while True:
            complete = b.soc_percent >= plan.target_soc
            answer = await self._ask(
                "current_demand", target_voltage_v=round(b.max_voltage_v, 1),
                target_current_a=round(0.0 if complete else b.requested_current_a(), 1),
                soc_percent=round(b.soc_percent, 1), charging_complete=complete,
                max_voltage_v=b.max_voltage_v, max_current_a=b.max_current_a)
            if complete:
                return "target_soc"
            if answer["status"]["notification"] == "StopCharging":
                return "evse_stop"
            charged_for = self.clock() - self.charging_started_t
            if plan.stop_after_charging_s is not None and charged_for >= plan.stop_after_charging_s:
                return "ev_stop"
            if plan.unplug_after_charging_s is not None and charged_for >= plan.unplug_after_charging_s:
                self.unplug()
                return "unplugged"
            await asyncio.sleep(plan.request_period_s)

    async def _finish(self, plan: CarPlan) -> None:
        self._enter("stopping")
        await self._ask("power_delivery", start=False)
        deadline = self.clock() + 2.0
        while self.plant.output_current_a > 1.0 and self.clock() < deadline:
            await asyncio.sleep(0.01)
        self.plant.ev_contactor_closed = False
        self.plant.ev_cp_state = "B"
        self._enter("welding_detection")
        await self._until("welding_detection", lambda a: a["present_voltage_v"] < 60.0, plan)
        self._enter("session_stop")
        await self._ask("session_stop")
        await asyncio.sleep(0.1)
        self.unplug()
