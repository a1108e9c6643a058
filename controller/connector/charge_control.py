"""The output while the car draws power: the precharge to the car's target voltage, then the current it
demands, ramped up (at most ramp_up_a_per_s) and cut down at once, inside the session's limits.

Setpoints go to the module group at once; the precharge and charging bounds are checked on each control tick.
Every value here starts from `reset()` at a session start: nothing of a previous car's session (its target
voltage above all) can reach the next one.
"""
from __future__ import annotations

from typing import Callable, Protocol

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.ev_session import CurrentDemand
from controller.connector.ports import IoBoardPort, ModuleGroupPort

SETPOINT_INTERVAL_S = 0.1  # rising setpoints at 10 Hz: 2.5 A steps at 25 A/s
# ISO 15118-2 / DIN 70121: the car sends the next PreChargeReq within its 2 s message timeout (V2G_EVCC_Msg_Timeout)
PRECHARGE_REQUEST_TIMEOUT_S = 2.0
# the output may leave the EV's precharge target (a slew after the car changed it) at most this long once it
# had reached it; longer is a precharge that no longer matches the battery
PRECHARGE_DEVIATION_S = 2.0


class ChargeControlHost(Protocol):
    """What precharge and charging read and drive on their connector."""
    charging: ChargingConfig
    io: IoBoardPort
    group: ModuleGroupPort
    clock: Callable[[], float]
    last_ev_request_t: float | None
    def contactors_commanded(self) -> bool: ...
    def board_max_voltage_v(self) -> float: ...
    def voltage_limit_v(self) -> float: ...
    def current_limit_a(self, voltage_v: float) -> tuple[float, str]: ...
    def present_voltage(self) -> float: ...
    def may_energize(self, what: str) -> bool: ...
    def switch_on(self) -> None: ...
    def state_elapsed(self, now: float) -> float: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...


class ChargeControl:
    def __init__(self, host: ChargeControlHost) -> None:
        self.host = host
        self.reset()

    def reset(self) -> None:
        self.target_voltage_v = 0.0
        self.target_current_a = 0.0
        self.setpoint_current_a = 0.0
        self._applied: tuple[float, float] | None = None
        self._applied_t = 0.0
        self._precharge_target_v: float | None = None
        self._precharge_reached = False
        self._precharge_off_target_since: float | None = None

    # ---- precharge -----------------------------------------------------------------------------------
    def start_precharge(self) -> None:
        self._applied = None
        if self.host.contactors_commanded():  # the cable check's test voltage is over: the session maximum again
            self.host.io.set_max_voltage(self.host.board_max_voltage_v())
        self._precharge_target_v = None
        self._precharge_reached = False
        self._precharge_off_target_since = None

    def apply_precharge(self, target_voltage_v: float, target_current_a: float) -> bool:
        if target_voltage_v > self.host.voltage_limit_v() or target_voltage_v < 0:
            return False
        if self._precharge_target_v is not None and target_voltage_v != self._precharge_target_v:
            self._precharge_off_target_since = None  # a new target: the output gets its time to follow
        self._precharge_target_v = target_voltage_v
        if not self.host.may_energize("precharge"):
            return True  # answered with the present voltage; the precharge bound ends a wait that never ends
        current = min(max(0.0, target_current_a), self.host.charging.precharge_max_current_a)
        self._apply(target_voltage_v, current)
        if not self.host.group.is_on:
            self.host.switch_on()
        return True

    def precharge_target_v(self) -> float | None:
        """The car's latest PreCharge target voltage (None before its first PreChargeReq)."""
        return self._precharge_target_v

    def precharge_reached(self) -> bool:
        """The output is within the tolerance of the EV's precharge target (measured now)."""
        target = self._precharge_target_v
        tolerance = self.host.charging.precharge_tolerance_v
        return target is not None and abs(self.host.present_voltage() - target) <= tolerance

    def precharge_tick(self, now: float) -> None:
        bound = self.host.charging.precharge_timeout_s
        live = self.host.group.is_on or self.host.contactors_commanded()
        if live and self.host.last_ev_request_t is not None \
                and now - self.host.last_ev_request_t > PRECHARGE_REQUEST_TIMEOUT_S:
            self.host.raise_fault("EV_TIMEOUT", f"no PreCharge request for {PRECHARGE_REQUEST_TIMEOUT_S:g} s "
                                           "with the output live")
            return
        in_tolerance = self.precharge_reached()
        self._precharge_reached = self._precharge_reached or in_tolerance
        elapsed = self.host.state_elapsed(now)
        if self._precharge_reached and not in_tolerance:
            if self._precharge_off_target_since is None:
                self._precharge_off_target_since = now
        else:
            self._precharge_off_target_since = None
        off_target = self._precharge_off_target_since
        target = "none" if self._precharge_target_v is None else f"{self._precharge_target_v:.0f} V"
        if not self._precharge_reached and elapsed > bound:
            self.host.raise_fault("PRECHARGE_FAILED", f"output {self.host.present_voltage():.0f} V, EV target {target} "
                                                 f"after {bound:g} s")
        elif off_target is not None and now - off_target > PRECHARGE_DEVIATION_S:
            self.host.raise_fault("PRECHARGE_FAILED", f"output {self.host.present_voltage():.0f} V left the EV target "
                                                 f"{target} for {PRECHARGE_DEVIATION_S:g} s")
        elif elapsed > 2 * bound:
            self.host.raise_fault("PRECHARGE_FAILED", f"no PowerDelivery(start) within {2 * bound:g} s")

    # ---- charging ------------------------------------------------------------------------------------
    def start_charging(self) -> None:
        """The precharge -> charging handover: hold the present session's precharge voltage, no current,
        until the car's first CurrentDemand."""
        self.target_voltage_v = self._precharge_target_v if self._precharge_target_v is not None \
            else self.host.present_voltage()
        self.target_current_a = 0.0
        self.setpoint_current_a = 0.0
        self._applied = None

    def apply_current_demand(self, demand: CurrentDemand) -> dict:
        voltage = min(demand.target_voltage_v, self.host.voltage_limit_v())
        present = self.host.present_voltage()
        # the power limit applies at the voltage the battery actually holds, not at the CV target
        at_v = present if present > self.host.charging.safe_voltage_v else voltage
        current_cap, limiter = self.host.current_limit_a(at_v)
        current = min(max(0.0, demand.target_current_a), current_cap)
        self.target_voltage_v = voltage
        self.target_current_a = current
        if current < self.setpoint_current_a:  # down at once, up by the ramp
            self.setpoint_current_a = current
            self._apply(voltage, current)
        clamped = demand.target_current_a > current_cap + 1e-6
        return {
            "current_limit_reached": clamped and limiter in ("current", "ev"),
            "power_limit_reached": clamped and limiter == "power",
            "voltage_limit_reached": demand.target_voltage_v > voltage + 1e-6,
        }

    def hold_current_at_zero(self) -> None:
        """An invalid request while energy flows: no current until a valid one."""
        self.target_current_a = self.setpoint_current_a = 0.0
        if self.host.group.is_on:
            self._apply(self.target_voltage_v or self.host.present_voltage(), 0.0)

    def charging_tick(self, now: float, dt: float) -> None:
        silence = self.host.charging.current_demand_timeout_s
        if self.host.last_ev_request_t is not None and now - self.host.last_ev_request_t > silence:
            self.host.raise_fault("EV_TIMEOUT", f"no CurrentDemand request for {silence:g} s")
            return
        ramp = self.host.charging.ramp_up_a_per_s * dt
        self.setpoint_current_a = min(self.target_current_a, self.setpoint_current_a + ramp)
        self._apply(self.target_voltage_v, self.setpoint_current_a)

    def _apply(self, voltage_v: float, current_a: float) -> None:
        """Send new setpoints: a lower current at once; a rise at most every SETPOINT_INTERVAL_S, so a
        ramp does not fill the module bus (each setpoint is one frame and one answer per module)."""
        now = self.host.clock()
        if self._applied is not None:
            old_v, old_a = self._applied
            if abs(old_v - voltage_v) < 0.5 and abs(old_a - current_a) < 0.1:
                return
            if current_a >= old_a and now - self._applied_t < SETPOINT_INTERVAL_S:
                return
        self._applied, self._applied_t = (voltage_v, current_a), now
        self.host.group.set_output(voltage_v, current_a)

    def current_to_zero(self) -> float:
        """A stop: no current from now; returns the voltage to hold while the current falls: the output's own,
        so when the contactors open the modules keep the bus where it was (not at the car's target, which a
        power matrix contact landing on the bus would meet as a step)."""
        self.setpoint_current_a = 0.0
        self.target_current_a = 0.0
        self._applied = None
        return self.host.present_voltage() or self.target_voltage_v
