"""The rig's car: presents CP states on the plant, switches its own contactor, and walks the DC
phases over V2G (DIN 70121 or ISO 15118-2 messages) the way a car does (repeat while Ongoing, CurrentDemand
loop), reading the decoded responses themselves."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from hil.ev.battery import BatteryModel
from hil.ev.evcc import answers
from hil.ev.evcc.link import V2gEvLink
from hil.ev.evcc.link_error import EvLinkError
from hil.plant import ConnectorPlant


@dataclass
class CarPlan:
    target_soc: float = 80.0
    evcc_id: str = "0465650064c3"
    stop_after_charging_s: float | None = None  # the driver ends the session early (ev-stop)
    unplug_after_charging_s: float | None = None  # the cable is pulled while charging
    request_period_s: float = 0.1
    phase_timeout_s: float = 20.0
    authorization_timeout_s: float | None = None  # Authorization Ongoing this long at most (None: phase_timeout_s)
    precharge_tolerance_v: float = 10.0
    # Plug & Charge (hil/ev/evcc/contract.py): the car holds this contract ("valid", "expired", "untrusted",
    # "bad-signature", "expiring") and pays with it where the SECC offers Contract (ISO-2 over TLS); "install": it
    # holds none, selects Contract and installs one first (CertificateInstallation); None: external payment
    contract: str | None = None
    contract_renewal_days: float = 7.0  # a contract whose leaf expires within this is renewed (CertificateUpdate)


@dataclass
class CarOutcome:
    ok: bool
    reason: str
    phases: list[tuple[str, float]] = field(default_factory=list)


UNPLUGGED_LINK_SILENCE_S = 0.5  # well past the I/O board's next CP report (every 20 ms and on change)


class EvseRefused(RuntimeError):
    pass


class SimulatedCar:
    def __init__(self, plant: ConnectorPlant, battery: BatteryModel, link: V2gEvLink,
                 cp_duty: Callable[[], float], *, clock: Callable[[], float] = time.monotonic):
        self.plant = plant
        self.battery = battery
        self.link = link
        self.cp_duty = cp_duty
        self.clock = clock
        self.phase = "idle"
        self.phases: list[tuple[str, float]] = []
        self.last_answer: Any = None  # the newest decoded response
        self.charging_started_t: float | None = None
        # fault injection (hil/injection): a target voltage sent instead of the battery's, and silence
        self.target_voltage_override_v: float | None = None
        self.silent = False  # requests wait while set; when it is cleared the car gives the session up
        self._extended: set[tuple[float, float]] = set()  # phase deadlines moved for process stalls

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

    def _target_voltage(self, wanted_v: float) -> float:
        """The battery's target voltage, or the injected one (hil/injection)."""
        return wanted_v if self.target_voltage_override_v is None else self.target_voltage_override_v

    async def _ask(self, what: str, build: Callable[[], tuple[str, Any]]) -> Any:
        """Send the request `build()` makes; its decoded response. `what` names the step in a refusal."""
        await self._unless_silent(what)
        response = await self.link.send(build())
        return self._check(what, response)

    async def _unless_silent(self, what: str) -> None:
        if self.silent:
            while self.silent:
                await asyncio.sleep(0.05)
            raise EvseRefused(f"{what}: the car was silent (injected)")

    def _check(self, what: str, response: Any) -> Any:
        self.last_answer = response
        status = answers.status_code(response)
        if not answers.accepted(response) or status in answers.HALTING:
            code = response.ResponseCode.value
            raise EvseRefused(f"{what}: {'OK' if code.startswith('OK') else code} / {status}")
        return response

    async def _until(self, what: str, build: Callable[[], tuple[str, Any]], done: Callable[[Any], bool],
                     plan: CarPlan, timeout_s: float | None = None) -> Any:
        deadline, mark = self.clock() + (timeout_s or plan.phase_timeout_s), self.link.stalls.mark()
        while True:
            response = await self._ask(what, build)
            if done(response):
                return response
            if self._past(deadline, mark):
                raise asyncio.TimeoutError(f"{what} did not finish")
            await asyncio.sleep(plan.request_period_s)

    def _past(self, deadline: float, mark: float) -> bool:
        """`deadline` (on `clock`) passed, not counting the time the car's process was stalled since `mark`."""
        stalled = self.link.stalls.stalled_since(mark)
        if self.clock() - stalled <= deadline:
            if self.clock() > deadline and (deadline, mark) not in self._extended:  # counted once a deadline
                self._extended.add((deadline, mark))
                self.link.stalls.extended(stalled)
            return False
        return True

    async def _session(self, plan: CarPlan) -> str:
        self.plug()
        self.link.stalls.start()  # from plug-in: the CP wait is a deadline too
        deadline, mark = self.clock() + plan.phase_timeout_s, self.link.stalls.mark()
        while abs(self.cp_duty() - 5.0) > 0.5:  # digital communication requested
            if self._past(deadline, mark):
                raise asyncio.TimeoutError("no 5 % PWM on CP")
            await asyncio.sleep(0.02)
        if plan.contract == "install":
            self.link.wants_contract = True
        elif plan.contract is not None:
            from hil.ev.evcc.contract import car_contract  # `cryptography` and the PKI: a Plug & Charge car only
            self.link.contract = car_contract(plan.contract)
        await self.link.connect()
        r = self.link.requests
        self._enter("session_setup")
        await self._unless_silent("session_setup")
        self._check("session_setup", await self.link.open_session(plan.evcc_id))
        if r.pay_by_contract and r.contract is None:  # no contract yet: one from the CSMS's provisioning service
            from hil.pki.rig_pki import rig_pki
            self._enter("certificate_installation")
            await self.link.install_contract(rig_pki())
        elif r.pay_by_contract and self._contract_expiring(plan):  # renewed before paying (ISO-2: the car decides)
            from hil.pki.rig_pki import rig_pki
            self._enter("certificate_update")
            await self.link.update_contract(rig_pki())
        if r.pay_by_contract:  # Plug & Charge: the contract chain for a challenge, signed back in Authorization
            r.gen_challenge = (await self._ask("payment_details", r.payment_details)).GenChallenge
        self._enter("authorization")
        await self._until("authorize", r.authorize, answers.finished, plan, plan.authorization_timeout_s)
        self._enter("parameter_discovery")
        b = self.battery
        await self._ask("charge_parameters", lambda: r.charge_parameters(
            max_voltage_v=b.max_voltage_v, max_current_a=b.max_current_a, soc_percent=round(b.soc_percent, 1),
            energy_capacity_wh=b.capacity_wh))
        self.plant.ev_cp_state = "C"
        self._enter("cable_check")
        await self._until("cable_check", r.cable_check, answers.finished, plan)
        self._enter("precharge")
        precharge_to_v = round(b.open_circuit_voltage(), 1)
        await self._until(
            "precharge", lambda: r.precharge(self._target_voltage(precharge_to_v), 2.0),
            lambda res: abs(answers.present_voltage_v(res) - b.open_circuit_voltage()) < plan.precharge_tolerance_v,
            plan)
        self.plant.ev_contactor_closed = True
        await self._ask("power_delivery", lambda: r.power_delivery(start=True))
        self._enter("charging")
        reason = await self._charge(plan)
        if reason == "unplugged":
            return reason
        await self._finish(plan)
        return reason

    def _contract_expiring(self, plan: CarPlan) -> bool:
        from hil.ev.evcc.contract import expires_within
        return expires_within(self.link.requests.contract, plan.contract_renewal_days)

    async def _charge(self, plan: CarPlan) -> str:
        b = self.battery
        self.charging_started_t = self.clock()
        while True:
            complete = b.soc_percent >= plan.target_soc
            response = await self._ask("current_demand", lambda: self.link.requests.current_demand(
                target_voltage_v=self._target_voltage(round(b.max_voltage_v, 1)),
                target_current_a=round(0.0 if complete else b.requested_current_a(), 1),
                soc_percent=round(b.soc_percent, 1), charging_complete=complete,
                max_voltage_v=b.max_voltage_v, max_current_a=b.max_current_a))
            if self.link.requests.pay_by_contract and getattr(response, "ReceiptRequired", None):  # sign the reading
                await self._ask("metering_receipt", lambda: self.link.requests.metering_receipt(response.MeterInfo))
            if complete:
                return "target_soc"
            if answers.notification(response) == "StopCharging":
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
        r = self.link.requests
        await self._ask("power_delivery", lambda: r.power_delivery(start=False))
        deadline = self.clock() + 2.0
        while self.plant.output_current_a > 1.0 and self.clock() < deadline:
            await asyncio.sleep(0.01)
        self.plant.ev_contactor_closed = False
        self.plant.ev_cp_state = "B"
        self._enter("welding_detection")
        await self._until("welding_detection", r.welding_detection, lambda res: answers.present_voltage_v(res) < 60.0,
                          plan)
        self._enter("session_stop")
        await self._ask("session_stop", r.session_stop)
        await asyncio.sleep(0.1)
        self.unplug()
