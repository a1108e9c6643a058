"""SafetySupervisor: one connector's permission to energize, and the checks of every measurement.

It is called synchronously from the CAN receive path (every I/O board DC measure, temperature frame and status,
every module answer) and from the control tick (measurements that stopped arriving). Each call is a handful of
comparisons: no I/O, no await, nothing that grows with time.

Time filters count by the measurements' own timestamps *and* by samples: a fault that needs 400 ms needs 400 ms
between the first and the latest offending sample and at least MIN_SAMPLES of them, so a loop that stood still
for a few hundred ms (frames queued, then handled together) cannot turn one sample into a trip. Staleness is
judged only on a tick that follows a recent tick, and a refusal to energize becomes a fault only once the loop
has run steadily for one bound: after a stall, the queued frames are handled first.

Faults go through the connector's `on_fault(code, detail, active)` like a driver's, so "auto" faults clear when
the condition goes away and latched ones wait for a technician. An emergency acts inside that call.
"""
from __future__ import annotations

import logging
import math
from typing import Callable, Protocol

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.ev_session import EvChargeParameters
from controller.connector.ports import IoBoardPort, ModuleGroupPort
from controller.connector.table import PLUGGED_STATES
from controller.faults import Fault
from controller.hw.io_board import IoStatus
from controller.connector.voltage_class import emergency_limit_v

log = logging.getLogger(__name__)

MIN_SAMPLES = 3  # offending samples needed before a time filter may trip
TIME_EPSILON_S = 1e-6  # sample times are sums of floats: 20 x 20 ms may come out a hair below 400 ms
RELATIVE_CURRENT_MARGIN = 0.05  # over-current margin: the larger of the setting and 5 % of the limit
RELATIVE_MISMATCH = 0.05  # voltage cross-check: the larger of the setting and 5 % of the voltage
STALL_LIMIT = 5  # a measurement this many stale bounds old is stale even right after a stalled tick
POWER_SCALE_FLOOR = 0.5  # the measured-power correction never takes more than half the port's power
POWER_SCALE_RECOVERY_PER_S = 0.02  # the correction relaxes by 2 % of the limit per second below the limit
DERATED_HYSTERESIS_C = 2.0  # POWER_DERATED clears this far below the start (no warning chatter at 70 degC)
TEMPERATURE_PLAUSIBLE_C = (-40.0, 200.0)  # outside: an open or shorted sensor, never "cold"
# measurements are judged stale while a car is plugged, not only while energized: a sensor that went silent
# after a quick stop decides the unlock below 60 V and refuses the next session, and must say so
STALENESS_STATES = tuple(PLUGGED_STATES)


class _Filter:
    """An over-limit condition held for `hold_s` by sample time and for at least MIN_SAMPLES samples."""
    __slots__ = ("hold_s", "since", "count")

    def __init__(self, hold_s: float):
        self.hold_s = hold_s
        self.since: float | None = None
        self.count = 0

    def sample(self, over: bool, t: float) -> bool:
        if not over:
            self.since, self.count = None, 0
            return False
        if self.since is None:
            self.since = t
        self.count += 1
        return self.count >= MIN_SAMPLES and t - self.since >= self.hold_s - TIME_EPSILON_S


class SupervisedConnector(Protocol):
    """What the supervisor reads (limits, drivers, the fault table) and where it reports (on_fault)."""
    cfg: ConnectorConfig
    charging: ChargingConfig
    io: IoBoardPort
    group: ModuleGroupPort
    clock: Callable[[], float]
    state: str
    ev_parameters: EvChargeParameters | None
    active_faults: dict[str, Fault]
    def cable_check_test_voltage_v(self) -> float: ...
    def on_fault(self, code: str, detail: str, active: bool) -> None: ...


class SafetySupervisor:
    def __init__(self, host: SupervisedConnector):
        self.host = host
        s = host.charging
        self.settings = s
        self._overvoltage = _Filter(s.overvoltage_error_s)
        self._overcurrent = _Filter(s.overcurrent_error_s)
        self._overpower = _Filter(s.power_trip_s)
        self._mismatch = _Filter(s.voltage_mismatch_s)
        self._last_measure_t: float | None = None
        self._last_temps_t: float | None = None
        self._last_module_t: float | None = None
        self._last_tick_t: float | None = None
        self._board_seen_t: float | None = None  # first tick with a board status: "never received" counts from here
        self._steady = True  # False on a tick that came late (the loop or the process stalled): frames still queued
        self._command_high_a = 0.0  # the highest current command of the last command_follow_s
        self._command_high_until = -math.inf
        self._power_scale = 1.0  # lowered when the measured power overshoots the port's limit
        self._power_scale_t: float | None = None
        self._hottest_c: float | None = None
        self._active: set[str] = set()  # supervisor conditions reported active

    # ---- the permission to energize ------------------------------------------------------------------------
    def may_energize(self) -> bool:
        """True when the modules may be switched on and the contactors closed: no blocking fault, the I/O
        board online, and fresh voltage and temperature measurements. Side-effect free."""
        return not self.refusal()

    def refusal(self) -> str:
        """Why energizing is refused now ("" when it is allowed)."""
        host = self.host
        blocking = [code for code, f in host.active_faults.items() if f.severity in ("emergency", "error")]
        if blocking:
            return "blocking fault " + ",".join(sorted(blocking))
        if not host.io.online:
            return "I/O board offline"
        status = host.io.status
        if status is None:
            return "no I/O board status"
        stale = self.stale_measurement()
        return stale[1] if stale else ""

    def stale_measurement(self) -> tuple[str, str] | None:
        """(fault code, why) when the DC measure or the temperatures are stale or missing, else None."""
        status = self.host.io.status
        if status is None:
            return None
        now = self.host.clock()
        measure_t = getattr(status, "measure_t", None)
        if measure_t is not None and now - measure_t > self.settings.measurement_stale_s:
            age = f"{now - measure_t:.2f} s old" if math.isfinite(measure_t) else "never received"
            return "VOLTAGE_MEASUREMENT_STALE", f"DC voltage measurement stale ({age})"
        if hasattr(status, "temps_t") and not self._temperatures_fresh(status, now):
            return "TEMPERATURE_SENSOR_FAULT", "temperature measurement missing or stale"
        return None

    def report_refusal(self) -> None:
        """Energizing was refused: a stale or missing measurement raises its fault, so the technician's
        console, the car's answer and the session report say why (never a silent refusal)."""
        stale = self.stale_measurement()
        if stale is not None and self._past_first_report_grace(stale[0]) and self._caught_up(stale[0]):
            self._report(stale[0], True, stale[1] + ": energizing refused")

    def _reading(self, code: str) -> tuple[float | None, float]:
        """The time of the reading a staleness code judges, and its bound."""
        status = self.host.io.status
        if code == "VOLTAGE_MEASUREMENT_STALE":
            return getattr(status, "measure_t", None), self.settings.measurement_stale_s
        return getattr(status, "temps_t", None), self.settings.temperature_stale_s

    def _past_first_report_grace(self, code: str) -> bool:
        """A board that came online a moment ago has not sent its first 1 Hz temperature frame (or DC measure)
        yet: refusing is right, a fault is not. As in tick(), "never received" counts from the first status."""
        seen, status, now = self._board_seen_t, self.host.io.status, self.host.clock()
        if status is None:
            return False
        last_t, bound = self._reading(code)
        if last_t is not None and math.isfinite(last_t):
            return now - last_t > bound  # received once, then silent: stale
        return seen is not None and now - seen > bound  # never received: the board had its period

    def _caught_up(self, code: str) -> bool:
        """As in tick(): after a stall the frames that arrived meanwhile still wait in the receive queue, so a
        refusal (no energy flows) becomes a fault on a tick after a steady one, or when far past the bound."""
        last_t, bound = self._reading(code)
        far_past = last_t is not None and math.isfinite(last_t) and self.host.clock() - last_t > STALL_LIMIT * bound
        return self._steady or far_past

    # ---- limits ----------------------------------------------------------------------------------------------
    def session_max_voltage_v(self) -> float:
        """min(EV maximum, cable maximum): the highest voltage the output may hold in this session."""
        limit = self.host.cfg.max_voltage_v
        ev = self.host.ev_parameters
        if ev is not None and ev.max_voltage_v > 0:
            limit = min(limit, ev.max_voltage_v)
        return limit

    def allowed_voltage_v(self) -> float:
        """The over-voltage reference: the session maximum, or the cable check's test voltage while it runs."""
        limit = self.session_max_voltage_v()
        if self.host.state == "cable_check":
            limit = max(limit, self.host.cable_check_test_voltage_v())
        return limit

    def class_limit_v(self) -> float:
        return emergency_limit_v(self.session_max_voltage_v())

    def current_limit_a(self, now: float) -> float:
        """min(EV maximum, cable maximum, recent command): the current the output may carry."""
        host = self.host
        limit = host.cfg.max_current_a
        ev = host.ev_parameters
        if ev is not None and ev.max_current_a > 0:
            limit = min(limit, ev.max_current_a)
        group = host.group
        command = group.setpoint[1] if group.is_on else 0.0
        if command >= self._command_high_a or now > self._command_high_until:
            self._command_high_a, self._command_high_until = command, now + self.settings.command_follow_s
        return min(limit, self._command_high_a)

    def derated_power_limit_w(self) -> float:
        """The port's power after temperature derating, the modules' own limits and the measured-power
        correction; the control loop never asks for more."""
        s = self.settings
        limit = self.host.cfg.max_power_kw * 1000.0 * self._power_scale * self.connector_derating()
        group = self.host.group
        hottest_module = getattr(group, "hottest_module_c", None)
        if hottest_module is not None:
            limit *= _derate(hottest_module, s.module_derate_start_c, s.module_derate_end_c)
        available = getattr(group, "available_power_w", None)
        if available is not None:
            limit = min(limit, available())
        return limit

    def connector_derating(self) -> float:
        """0..1: the share of the port's power its connector and cable temperatures allow (1 until measured);
        on a matrix cabinet the allocator's input for this port (PortDemand.derating)."""
        if self._hottest_c is None:
            return 1.0
        return _derate(self._hottest_c, self.settings.derate_start_c, self.settings.derate_end_c)

    def output_sample(self) -> tuple[float, float]:
        """(volts, amps) measured together: the I/O board's DC measure when fresh, else the modules' own
        answers (their power over their highest voltage). Never a fresh voltage times a stale current."""
        host = self.host
        status = host.io.status
        measure_t = getattr(status, "measure_t", None) if status is not None else None
        if measure_t is not None and host.clock() - measure_t <= self.settings.measurement_stale_s:
            return status.cable_voltage_v, status.cable_current_a
        group = host.group
        power = getattr(group, "output_power_w", None)
        volts = group.output_voltage_v
        if power is None:
            return volts, group.output_current_a
        return volts, (power / volts if volts > 1.0 else 0.0)

    # ---- receive path: I/O board -----------------------------------------------------------------------------
    def check_io(self, status: IoStatus) -> None:
        """Every I/O board status, DC measure and temperature frame: each new sample is checked once."""
        if self._board_seen_t is None:
            self._board_seen_t = self.host.clock()
        measure_t = getattr(status, "measure_t", None)
        if measure_t is None:  # a board without a DC measure timestamp: the status time stands in
            measure_t = status.t if hasattr(status, "t") else self.host.clock()
        if measure_t != self._last_measure_t and math.isfinite(measure_t):
            self._last_measure_t = measure_t
            self._check_measure(status, measure_t)
        temps_t = getattr(status, "temps_t", None)
        if temps_t is not None and temps_t != self._last_temps_t:
            self._last_temps_t = temps_t
            self._check_temperatures(status)

    def _check_measure(self, status: IoStatus, t: float) -> None:
        s = self.settings
        volts = status.cable_voltage_v
        limit = self.class_limit_v()
        if volts > limit:
            self._report("VOLTAGE_CLASS_EXCEEDED", True, f"{volts:.1f} V above the {limit:.0f} V class limit")
        allowed = self.allowed_voltage_v()
        if self._overvoltage.sample(volts > allowed + s.overvoltage_margin_v, t):
            self._report("OUTPUT_OVERVOLTAGE", True, f"{volts:.1f} V for {t - self._overvoltage.since:.2f} s, "
                         f"allowed {allowed:.0f} V + {s.overvoltage_margin_v:.0f} V")
        self._report("VOLTAGE_MEASUREMENT_STALE", False, "DC measure fresh again")
        amps = getattr(status, "cable_current_a", None)
        if amps is None:
            return
        self._check_current(amps, t, "I/O board")
        self._check_power(volts * amps, t)

    def _check_current(self, amps: float, t: float, source: str) -> None:
        limit = self.current_limit_a(t)
        margin = max(self.settings.overcurrent_margin_a, RELATIVE_CURRENT_MARGIN * limit)
        if self._overcurrent.sample(amps > limit + margin, t):
            self._report("OUTPUT_OVERCURRENT", True, f"{amps:.1f} A ({source}) for "
                         f"{t - self._overcurrent.since:.2f} s, allowed {limit:.1f} A + {margin:.1f} A")

    def _check_power(self, power_w: float, t: float) -> None:
        s = self.settings
        port_w = self.host.cfg.max_power_kw * 1000.0
        if self._overpower.sample(power_w > port_w * (1.0 + s.power_trip_margin), t):
            self._report("PORT_OVERPOWER", True, f"{power_w / 1000:.1f} kW measured for "
                         f"{t - self._overpower.since:.2f} s on a {port_w / 1000:.0f} kW port")
        previous_t, self._power_scale_t = self._power_scale_t, t
        if power_w > port_w * (1.0 + s.power_margin):
            # lower the next setpoint by the overshoot: the control loop caps power with derated_power_limit_w
            self._power_scale = max(POWER_SCALE_FLOOR, self._power_scale * port_w / power_w)
        elif power_w <= port_w and previous_t is not None and self._power_scale < 1.0:
            dt = max(0.0, min(t - previous_t, 1.0))
            self._power_scale = min(1.0, self._power_scale + POWER_SCALE_RECOVERY_PER_S * dt)

    def _check_temperatures(self, status: IoStatus) -> None:
        s = self.settings
        temps = (status.temp_dc_plus_c, status.temp_dc_minus_c, status.temp_cable_c)
        low, high = TEMPERATURE_PLAUSIBLE_C
        bad = [t for t in temps if t is None or not low <= t <= high]
        if bad:
            self._hottest_c = None
            self._report("TEMPERATURE_SENSOR_FAULT", True, f"implausible connector temperature {bad[0]} degC "
                         "(open or shorted sensor)")
            return
        self._report("TEMPERATURE_SENSOR_FAULT", False, "connector temperatures plausible and fresh")
        self._hottest_c = max(temps)
        derating = self._hottest_c > s.derate_start_c or (
            "POWER_DERATED" in self._active and self._hottest_c > s.derate_start_c - DERATED_HYSTERESIS_C)
        self._report("POWER_DERATED", derating, f"connector at {self._hottest_c:.1f} degC, power derated "
                     f"above {s.derate_start_c:.0f} degC" if derating else "connector temperature normal")

    def _temperatures_fresh(self, status: IoStatus, now: float) -> bool:
        temps_t = status.temps_t
        return temps_t is not None and now - temps_t <= self.settings.temperature_stale_s \
            and self._hottest_c is not None

    # ---- receive path: module answers ------------------------------------------------------------------------
    def check_modules(self) -> None:
        """Every module answer: the modules' voltage against the I/O board's, when both are fresh, the
        contactors closed and the modules on (a stuck or silent sensor shows as a lasting difference)."""
        host = self.host
        group = host.group
        module_t = getattr(group, "voltage_t", None)
        if module_t is None or module_t == self._last_module_t:
            return
        self._last_module_t = module_t
        status = host.io.status
        measure_t = getattr(status, "measure_t", None) if status is not None else None
        fresh = measure_t is not None and module_t - measure_t <= self.settings.measurement_stale_s
        closed = status is not None and status.dc_plus_closed and status.dc_minus_closed
        if not (fresh and closed and group.is_on):
            self._mismatch.sample(False, module_t)
            return
        board_v, module_v = status.cable_voltage_v, group.output_voltage_v
        allowed = max(self.settings.voltage_mismatch_v, RELATIVE_MISMATCH * module_v)
        if self._mismatch.sample(abs(board_v - module_v) > allowed, module_t):
            self._report("VOLTAGE_MEASUREMENT_MISMATCH", True, f"I/O board {board_v:.1f} V, modules "
                         f"{module_v:.1f} V for {module_t - self._mismatch.since:.1f} s")

    # ---- control tick: what stopped arriving -----------------------------------------------------------------
    def tick(self, now: float) -> None:
        previous, self._last_tick_t = self._last_tick_t, now
        s = self.settings
        self._steady = previous is None or now - previous <= s.measurement_stale_s / 2
        if not self._steady:
            log.info("connector %d: control tick %.2f s late: staleness judged once the receive queue caught up",
                     self.host.cfg.id, now - previous)
        if self._board_seen_t is None and self.host.io.status is not None:
            self._board_seen_t = now  # a board that has said nothing yet gets its period before it is stale
        status = self.host.io.status
        if status is None or self._board_seen_t is None or self.host.state not in STALENESS_STATES:
            return
        # after a stall the receive queue is handled before staleness is judged: on a tick that follows a
        # recent one, or once the age is far past the bound (a loop that never gets back to a steady pace)
        recent = previous is not None and self._steady
        seen = self._board_seen_t
        measure_t = getattr(status, "measure_t", None)
        age = None if measure_t is None else now - max(measure_t, seen)
        if age is not None and age > s.measurement_stale_s and (recent or age > STALL_LIMIT * s.measurement_stale_s):
            age = "never received" if not math.isfinite(measure_t) else f"{now - measure_t:.2f} s old"
            self._report("VOLTAGE_MEASUREMENT_STALE", True, f"I/O board DC measure {age}")
        if hasattr(status, "temps_t"):  # a board that reports temperatures at all
            temps_t = status.temps_t
            temps_age = now - (seen if temps_t is None else max(temps_t, seen))
            if temps_age > s.temperature_stale_s and (recent or temps_age > STALL_LIMIT * s.temperature_stale_s):
                age = "never received" if temps_t is None else f"{now - temps_t:.1f} s old"
                self._report("TEMPERATURE_SENSOR_FAULT", True, f"connector temperatures {age}")

    # ---- reporting -------------------------------------------------------------------------------------------
    def _report(self, code: str, active: bool, detail: str) -> None:
        if active == (code in self._active):
            if not active or code in self.host.active_faults:
                return
        # recorded only after the connector acted on it: a reaction that raised is tried again next sample
        self.host.on_fault(code, detail, active)
        if active:
            self._active.add(code)
        else:
            self._active.discard(code)

    def reset_session(self) -> None:
        """A new session: the filters start empty (the latched faults stay with the connector)."""
        for f in (self._overvoltage, self._overcurrent, self._overpower, self._mismatch):
            f.since, f.count = None, 0
        self._power_scale = 1.0


def _derate(temperature_c: float, start_c: float, end_c: float) -> float:
    """1 up to start_c, falling linearly to 0 at end_c."""
    if temperature_c <= start_c:
        return 1.0
    if temperature_c >= end_c:
        return 0.0
    return (end_c - temperature_c) / (end_c - start_c)
