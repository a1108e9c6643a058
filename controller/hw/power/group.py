"""PowerModuleGroup: the modules behind one connector, driven as one power supply.

Equal current sharing over healthy modules, keep-alive well inside the modules' own 10 s timeout, telemetry
polling, and health: a module is out of the group while it reports a fault flag, and dropped as lost only after
`silent_after_s` without an answer (longer than its own timeout, so it is surely off by then). Whenever the set
of healthy modules changes, the current is re-shared and every setpoint is sent again.

Faults go to `on_fault(code, detail, active)`. MODULE_LOST, MODULE_FAULT, MODULE_OVERVOLTAGE and
MODULE_SHORT_CIRCUIT are reported per group: active=True each time a module joins the code's set (the detail
names it), active=False once the set is empty again. An output over-voltage or short-circuit flag is reported
from inside the CAN receive handler, before anything else, so the connector can call `emergency_off()` in the
same call stack: the other modules must not feed a short.

After every voltage answer the telemetry listener (`listen_telemetry`, the connector's safety supervisor) runs,
also inside the receive handler, with the module's new values already in place (the other answers do not
call it: a saturated bus carries thousands of them a second).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import can

from controller.faults import FaultListener, report_fault
from controller.hw.can_port import CanPort
from controller.hw.power.base import Frame, ModuleRating
from controller.hw.power.registry import driver_class

log = logging.getLogger(__name__)

TelemetryListener = Callable[[], None]

# A module is lost only if it also missed this many polls in a row: a stalled controller (no polls sent)
# must not declare every module lost at once.
MISSED_POLLS_FOR_LOSS = 3
# a voltage reading older than this many telemetry periods (before the newest one) no longer counts: one missed
# answer is tolerated, a module that stopped answering is not
VOLTAGE_FRESH_POLLS = 2.5
# Room between the commanded current and what the healthy modules can give before GROUP_CAPACITY_LOST: the
# connector computes its power limit from its own voltage measurement; a lost module takes far more (1/n).
CAPACITY_TOLERANCE = 0.02


@dataclass(frozen=True)
class GroupCapabilities:
    """What the healthy modules can deliver together (current and power summed, the common voltage range)."""
    max_voltage_v: float
    min_voltage_v: float
    max_current_a: float
    max_power_w: float
    healthy_count: int
    total_count: int


@dataclass
class _Module:
    address: int
    rating: ModuleRating | None
    off_frame: Frame
    quiet_since: float  # the last answer, or the start of run() for a module never heard
    last_seen: float | None = None
    missed_polls: int = 0
    lost: bool = False
    fault: bool = False
    overvoltage: bool = False
    short_circuit: bool = False
    flags: frozenset[str] = frozenset()
    voltage_v: float = 0.0
    current_a: float = 0.0
    temperature_c: float | None = None
    voltage_t: float | None = None  # when voltage_v was last reported
    current_t: float | None = None  # when current_a was last reported

    @property
    def answering(self) -> bool:
        return self.last_seen is not None and not self.lost

    @property
    def healthy(self) -> bool:
        return self.answering and not self.fault and not self.overvoltage and not self.short_circuit \
            and self.rating is not None

    @property
    def state(self) -> str:
        if self.lost:
            return "lost"
        if self.fault or self.overvoltage or self.short_circuit:
            return "fault"
        if self.last_seen is None or self.rating is None:
            return "unknown"
        return "ok"


class PowerModuleGroup:
    contact_closing = False  # the connector's own group: no matrix contact ever closes onto its output
    # called once per telemetry slot by run(): the task supervisor's proof that this task makes progress
    on_progress: Callable[[], None] = staticmethod(lambda: None)

    def __init__(self, port: CanPort, vendor: str, addresses: Sequence[int], group_index: int, *,
                 keepalive_s: float = 1.0, telemetry_period_s: float = 0.2, silent_after_s: float = 12.0,
                 on_fault: FaultListener, clock: Callable[[], float] = time.monotonic):
        factory = driver_class(vendor)  # ValueError naming the known vendors
        for name, value in (("keepalive_s", keepalive_s), ("telemetry_period_s", telemetry_period_s),
                            ("silent_after_s", silent_after_s)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        addresses = tuple(addresses)
        if not addresses:
            raise ValueError("a module group needs at least one module address")
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"module addresses {addresses} list an address twice")
        self._driver = factory(group_index)
        for address in addresses:
            self._driver.check_address(address)
        self.group_index = group_index
        self._port = port
        self._on_fault = on_fault
        self._clock = clock
        self._keepalive_s = keepalive_s
        self._telemetry_period_s = telemetry_period_s
        self._silent_after_s = silent_after_s
        now = clock()
        self._modules = {a: _Module(a, self._driver.fixed_rating, self._driver.on_off_frame(a, False), now)
                         for a in addresses}
        self._voltage_v = 0.0
        self._current_a = 0.0
        self._on = False
        self._affected: dict[str, set[int]] = {"MODULE_LOST": set(), "MODULE_FAULT": set(),
                                               "MODULE_OVERVOLTAGE": set(), "MODULE_SHORT_CIRCUIT": set()}
        self._telemetry_listener: TelemetryListener | None = None
        self.voltage_t: float | None = None  # clock() of the latest voltage answer
        self._group_faults = {"GROUP_LOST": False, "GROUP_CAPACITY_LOST": False}
        self._capabilities = self._compute_capabilities()

    # ---- commands (all send at once) -------------------------------------------------------------------------

    def attach(self) -> None:
        """Register one handler per module on the port (masked ID: any command from that module)."""
        for address in self._modules:
            value, mask = self._driver.answer_filter(address)
            self._port.on(value, functools.partial(self._on_frame, address), extended=True, mask=mask,
                          urgent=self._driver.may_report_fault)

    def set_output(self, voltage_v: float, current_a: float) -> None:
        """Voltage reference for every healthy module; the current limit split equally between them."""
        if not (math.isfinite(voltage_v) and voltage_v >= 0 and math.isfinite(current_a) and current_a >= 0):
            raise ValueError(f"setpoint {voltage_v} V / {current_a} A must be finite and not negative")
        previous = self._voltage_v, self._current_a
        self._voltage_v, self._current_a = voltage_v, current_a
        try:
            self._send_outputs()
        except ValueError:
            self._voltage_v, self._current_a = previous
            raise
        self._check_group()

    def switch_on(self) -> None:
        self._on = True
        self._apply_all()
        self._check_group()

    def switch_off(self) -> None:
        self._on = False
        for module in self._modules.values():
            self._send(module.off_frame)
        self._check_group()

    def emergency_off(self) -> None:
        """Off frames to every module, nothing else: safe to call inside a CAN receive handler."""
        self._on = False
        for module in self._modules.values():
            self._port.send(module.off_frame[0], module.off_frame[1], extended=True)

    def listen_telemetry(self, listener: TelemetryListener) -> None:
        """Call `listener()` after every module voltage answer, inside the receive handler (one listener)."""
        self._telemetry_listener = listener

    # ---- state -----------------------------------------------------------------------------------------------

    @property
    def setpoint(self) -> tuple[float, float]:
        """The group's commanded (volts, amps), whether on or off."""
        return self._voltage_v, self._current_a

    @property
    def capabilities(self) -> GroupCapabilities:
        return self._capabilities

    @property
    def is_on(self) -> bool:
        return self._on

    @property
    def output_voltage_v(self) -> float:
        """Highest voltage reported by an answering module (faulted ones included: their output is real), among
        the readings of the last few polls: a module that went silent keeps its last reading until it is declared
        lost, seconds later, and that reading (e.g. the cable check's voltage) is no longer the bus's."""
        if self.voltage_t is None:
            return 0.0
        fresh_since = self.voltage_t - VOLTAGE_FRESH_POLLS * self._telemetry_period_s
        return max((m.voltage_v for m in self._modules.values()
                    if m.answering and m.voltage_t is not None and m.voltage_t >= fresh_since), default=0.0)

    @property
    def output_current_a(self) -> float:
        """Sum of the currents of answering modules; "off" is complete when this is low."""
        return sum(m.current_a for m in self._modules.values() if m.answering)

    @property
    def output_power_w(self) -> float:
        """Sum of each answering module's own voltage times its own current (values read together, so a
        fresh voltage is never multiplied by another module's stale current)."""
        return sum(m.voltage_v * m.current_a for m in self._modules.values() if m.answering)

    @property
    def hottest_module_c(self) -> float | None:
        """The highest temperature an answering module reported; None before any did."""
        return max((m.temperature_c for m in self._modules.values()
                    if m.answering and m.temperature_c is not None), default=None)

    def available_power_w(self) -> float:
        """What the healthy modules can give now: a module that reports it limits its own power (derating)
        counts with the power it delivers, the others with their rating."""
        limited_flags = self._driver.power_limited_flags
        total = 0.0
        for m in self._healthy():
            if self._on and m.flags & limited_flags:
                total += max(0.0, m.voltage_v * m.current_a)
            else:
                total += m.rating.max_power_w
        return total

    def measured_since(self, t: float) -> bool:
        """Every answering module has reported its voltage and current after `t` (a power-sharing move judges
        a group by readings taken after its last command, never by older ones)."""
        answering = [m for m in self._modules.values() if m.answering]
        return bool(answering) and all(m.voltage_t is not None and m.voltage_t > t and m.current_t is not None
                                       and m.current_t > t for m in answering)

    def module_states(self) -> list[dict]:
        now = self._clock()
        return [{
            "address": m.address, "healthy": m.healthy, "state": m.state, "voltage": m.voltage_v,
            "current": m.current_a, "temperature": m.temperature_c, "flags": sorted(m.flags),
            "last_seen_age_s": None if m.last_seen is None else now - m.last_seen,
        } for m in self._modules.values()]

    # ---- periodic work ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep-alive, rating discovery, telemetry polls and silence detection until cancelled.

        Each module has its own slot in the telemetry period: the bus sees a steady trickle of requests and
        answers instead of a burst per period that a fault report would have to queue behind."""
        now = self._clock()
        for module in self._modules.values():
            if module.last_seen is None:
                module.quiet_since = now
        cycle = 0
        next_keepalive = now
        slot_s = self._telemetry_period_s / len(self._modules)
        while True:
            now = self._clock()
            self._check_silence(now)
            keepalive = now >= next_keepalive
            if keepalive:
                next_keepalive = now + self._keepalive_s
            for module in self._modules.values():
                if keepalive:
                    self._keepalive(module)
                self._poll(module, cycle)
                self.on_progress()
                await asyncio.sleep(slot_s)
            cycle += 1
            self._check_group()

    def _keepalive(self, module: _Module) -> None:
        self._apply(module, self._share(self._healthy()))
        if module.rating is None:
            request = self._driver.rating_request(module.address)
            if request is not None:
                self._send(request)

    def _poll(self, module: _Module, cycle: int) -> None:
        for frame in self._driver.poll_frames(module.address, cycle):
            self._send(frame)
        module.missed_polls += 1

    def _check_silence(self, now: float) -> None:
        dropped = False
        for m in self._modules.values():
            quiet_s = now - m.quiet_since
            if not m.lost and quiet_s >= self._silent_after_s and m.missed_polls >= MISSED_POLLS_FOR_LOSS:
                m.lost = True
                dropped = True
                self._mark("MODULE_LOST", m.address, True, f"module {m.address:#04x} silent for {quiet_s:.1f} s")
        if dropped:
            self._membership_changed()

    # ---- receive path ----------------------------------------------------------------------------------------

    def _on_frame(self, address: int, msg: can.Message) -> None:
        answer = self._driver.decode_answer(address, msg)
        if answer is None:
            return
        module = self._modules[address]
        was_healthy = module.healthy
        if answer.flags is not None:
            # first thing: the connector switches everything off inside these calls
            short = bool(answer.flags & self._driver.short_circuit_flags)
            if short != module.short_circuit:
                module.short_circuit = short
                self._mark("MODULE_SHORT_CIRCUIT", address, short,
                           f"module {address:#04x} reports an output short circuit")
            overvoltage = bool(answer.flags & self._driver.overvoltage_flags)
            if overvoltage != module.overvoltage:
                module.overvoltage = overvoltage
                self._mark("MODULE_OVERVOLTAGE", address, overvoltage,
                           f"module {address:#04x} reports output over-voltage")
        now = self._clock()
        module.last_seen = module.quiet_since = now
        module.missed_polls = 0
        if module.lost:
            module.lost = False
            self._mark("MODULE_LOST", address, False, f"module {address:#04x} answers again")
        if answer.rating is not None:
            module.rating = answer.rating
        if answer.voltage_v is not None:
            module.voltage_v, module.voltage_t = answer.voltage_v, now
            self.voltage_t = now
        if answer.current_a is not None:
            module.current_a, module.current_t = answer.current_a, now
        if answer.temperature_c is not None:
            module.temperature_c = answer.temperature_c
        if answer.flags is not None:
            module.flags = answer.flags
            faults = answer.flags & self._driver.fault_flags
            module.fault = bool(faults)
            self._mark("MODULE_FAULT", address, module.fault,
                       f"module {address:#04x} reports {', '.join(sorted(faults)) or 'no fault'}")
        if module.healthy != was_healthy:
            self._membership_changed()
        if self._telemetry_listener is not None and answer.voltage_v is not None:
            try:
                self._telemetry_listener()
            except Exception:  # the listener's bug must not stop the group's own safety work
                log.exception("telemetry listener raised")

    # ---- sharing and group faults ----------------------------------------------------------------------------

    def _membership_changed(self) -> None:
        """Re-share over the healthy modules at once; the others are told to switch off."""
        self._capabilities = self._compute_capabilities()
        self._apply_all()
        self._check_group()

    def _healthy(self) -> list[_Module]:
        return [m for m in self._modules.values() if m.healthy]

    def _share(self, healthy: list[_Module]) -> float:
        """Each healthy module's part of the group's current."""
        return self._current_a / len(healthy) if healthy else 0.0

    def _send_outputs(self) -> None:
        healthy = self._healthy()
        share = self._share(healthy)
        for m in healthy:
            for frame in self._driver.output_frames(m.address, self._voltage_v, min(share, m.rating.max_current_a)):
                self._send(frame)

    def _apply_all(self) -> None:
        share = self._share(self._healthy())
        for m in self._modules.values():
            self._apply(m, share)

    def _apply(self, module: _Module, share: float) -> None:
        """One module: its setpoint, then on/off, when healthy; else off."""
        if not module.healthy:
            self._send(module.off_frame)
            return
        for frame in self._driver.output_frames(module.address, self._voltage_v,
                                                min(share, module.rating.max_current_a)):
            self._send(frame)
        self._send(self._driver.on_off_frame(module.address, self._on))

    def _compute_capabilities(self) -> GroupCapabilities:
        ratings = [m.rating for m in self._healthy()]
        total = len(self._modules)
        if not ratings:
            return GroupCapabilities(0.0, 0.0, 0.0, 0.0, 0, total)
        return GroupCapabilities(
            max_voltage_v=min(r.max_voltage_v for r in ratings),
            min_voltage_v=max(r.min_voltage_v for r in ratings),
            max_current_a=sum(r.max_current_a for r in ratings),
            max_power_w=sum(r.max_power_w for r in ratings),
            healthy_count=len(ratings), total_count=total)

    def _check_group(self) -> None:
        healthy = self._healthy()
        gone = not healthy and all(m.lost or m.fault or m.overvoltage or m.short_circuit
                                   for m in self._modules.values())
        self._flag("GROUP_LOST", gone, f"group {self.group_index}: no healthy module "
                   f"({', '.join(f'{m.address:#04x} {m.state}' for m in self._modules.values())})")
        demand = self._current_a if self._on else 0.0
        # the power limit applies at the output voltage, not at the (higher) voltage reference
        measured = self.output_voltage_v
        volts = max(measured if measured > 1.0 else self._voltage_v, 1.0)
        available = sum(min(m.rating.max_current_a, m.rating.max_power_w / volts) for m in healthy)
        self._flag("GROUP_CAPACITY_LOST", demand > available * (1.0 + CAPACITY_TOLERANCE),
                   f"group {self.group_index}: {demand:.1f} A commanded at {volts:.0f} V, "
                   f"{available:.1f} A available from {len(healthy)} healthy module(s)")

    # ---- reporting -------------------------------------------------------------------------------------------

    def _mark(self, code: str, address: int, active: bool, detail: str) -> None:
        members = self._affected[code]
        if active == (address in members):
            return
        if active:
            members.add(address)
        else:
            members.discard(address)
        if active or not members:
            self._report(code, detail, active)

    def _flag(self, code: str, active: bool, detail: str) -> None:
        if self._group_faults[code] != active:
            self._group_faults[code] = active
            self._report(code, detail, active)

    def _report(self, code: str, detail: str, active: bool) -> None:
        # the receiver's bug must not stop the group's own safety work (report_fault never raises)
        report_fault(self._on_fault, f"module group {self.group_index}", code, detail, active)

    def _send(self, frame: Frame) -> None:
        self._port.send(frame[0], frame[1], extended=True)
