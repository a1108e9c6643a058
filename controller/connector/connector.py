"""One charging connector: the place that decides.

The state machine (table.py) runs synchronously: CP changes and fault reports arrive from the CAN receive
handlers and are acted on in the same call, so an emergency switches the modules off and opens the contactors
before the handler returns. Slow phases (cable check, ramps, stopping) advance in `tick()`, called by the
control task at a fixed period.

The Connector owns the transitions and wires small parts, each given only what it needs (a few callables or a
narrow Protocol): the EV-session requests (ev_requests.py, ordered by request_order.py), the limits (limits.py),
the control pilot (control_pilot.py), the fault reaction (fault_reaction.py), the output guard and the lock
(output_guard.py, connector_lock.py), the safety supervisor, the communication setup, the cable check,
precharge and charging (charge_control.py), the power-down sequence (power_down.py) and the session record
(session_recorder.py). Its drivers are typed by ports.py; the SECC sees it as ports.EvSession.
"""
from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from typing import Callable

from transitions import Machine

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.cable_check import CableCheck
from controller.connector.charge_control import ChargeControl
from controller.connector.connector_lock import ConnectorLock
from controller.connector.control_pilot import ControlPilot
from controller.connector.communication_setup import CommunicationSetup
from controller.connector.ev_requests import EvRequests
from controller.connector.ev_session import Answer, CurrentDemand, EvChargeParameters, EvseChargeParameters, \
    EvseStatus, IsolationLevel
from controller.connector.energized_watch import EnergizedWatch
from controller.connector.fault_reaction import FaultReaction
from controller.connector.limits import Limits
from controller.connector.output_guard import OutputGuard
from controller.connector.output_measurements import OutputMeasurements
from controller.connector.ports import ImdPort, IoBoardPort, MeterPort, ModuleGroupPort
from controller.connector.power_down import PowerDown
from controller.connector.safety_supervisor import SafetySupervisor
from controller.connector.session import SessionRecord
from controller.connector.session_recorder import SessionRecorder
from controller.connector.table import SESSION_STATES, STATES, TRANSITIONS
from controller.faults import Fault
from controller.hw.io_board import IoStatus
from controller.formats.events import Event, EventSink, PhaseChanged

log = logging.getLogger(__name__)

BOARD_VOLTAGE_MARGIN_V = 30.0  # the I/O board trips above the session maximum plus the larger of these
BOARD_VOLTAGE_MARGIN = 0.05
# a control tick this late (the period is 20 ms) followed a stall of the loop or of the whole process: the frames
# that arrived meanwhile still wait behind it, so it is skipped once and no step judges a timeout on old readings
LATE_TICK_S = 0.15


class Connector:
    def __init__(self, cfg: ConnectorConfig, charging: ChargingConfig, io: IoBoardPort,
                 group: ModuleGroupPort, *, on_event: EventSink | None = None,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time):
        self.cfg = cfg
        self.charging = charging
        self.io = io
        self.group = group
        self.clock = clock
        self.wall_clock = wall_clock
        self._emit = self._guarded_sink(on_event or (lambda event: None))
        self.enabled = True
        self.maintenance = False  # disabled by a technician for scheduled maintenance
        self.active_faults: dict[str, Fault] = {}
        self._conditions: set[str] = set()  # codes a driver still reports active
        self.fault_history: list[Fault] = []
        self.sessions = SessionRecorder(cfg.id, wall_clock=wall_clock, meter=lambda: self.meter,
                                        emit=lambda event: self._emit(event))
        self.authorized = False
        self.meter: MeterPort | None = None  # the EnergyMeter, when the cabinet has one for this connector
        self.imd: ImdPort | None = None  # the InsulationMonitor likewise
        self._state_f_requested = False
        self._contactors_commanded = False
        self.communication = CommunicationSetup(cfg, charging, io, clock=clock, wall_clock=wall_clock,
                                                state=lambda: self.state, set_state_f=self.set_state_f,
                                                raise_fault=self.raise_fault, relink=self._state_changed,
                                                emit=lambda event: self._emit(event))
        self.state_entered_t = clock()
        self.reset_ev_side()
        self.ev_requests = EvRequests(self)  # what the SECC calls (the methods ev_* below)
        self.measurements = OutputMeasurements(io, group)
        self.power_down = PowerDown(charging, group, clock=clock, measured_output_current=self.measurements.current,
                                    contactors_open=self.measurements.contactors_open,
                                    open_contactors=self.open_contactors, raise_fault=self.raise_fault,
                                    output_safe=self._output_safe)
        self.cable_check = CableCheck(self)
        self.charge_control = ChargeControl(self)
        self.energized_watch = EnergizedWatch(self)
        self._last_tick_t: float | None = None
        self._skipped_late_tick = False  # never two in a row: a loop late on every tick still steps
        self.reset_control()
        self.fault_reaction = FaultReaction(self, wall_clock=wall_clock,
                                            emit=lambda event: self._emit(event))
        self.control_pilot = ControlPilot(self)
        self.guard = OutputGuard(self)  # the permission to energize, the fail-safe power path, welded contacts
        self.connector_lock = ConnectorLock(io, charging)
        self.supervisor = SafetySupervisor(self)  # the permission to energize and every measurement's limits
        self.limits = Limits(cfg, group, derated_power_w=self.supervisor.derated_power_limit_w,
                             ev_parameters=lambda: self.ev_parameters)
        for subscribe, listener in ((getattr(io, "listen_measurements", None), self.on_io_measure),
                                    (getattr(group, "listen_telemetry", None), self.on_module_telemetry)):
            if subscribe is not None:
                subscribe(listener)
        self.machine = Machine(
            model=self, states=STATES, transitions=TRANSITIONS, initial="unavailable",
            auto_transitions=False, ignore_invalid_triggers=False, after_state_change="_state_changed",
        )

    def _guarded_sink(self, sink: EventSink) -> EventSink:
        """The event listeners (store, console, SECC) come after the reaction and never stop it: an exception in
        one is logged, and the fault's power-off or shutdown goes on (controller.faults.report_fault's rule)."""
        def emit(event: Event) -> None:
            try:
                sink(event)
            except Exception:
                log.exception("connector %d: the %s event listener failed", self.cfg.id, event.KIND)
        return emit

    def fire(self, trigger: str) -> bool:
        """Pull a trigger of the table; one that does not fit the present state is logged and returns False
        (the caller decides what that means) instead of passing silently."""
        if trigger not in self.machine.get_triggers(self.state):
            log.info("connector %d: %s does not apply in state %s", self.cfg.id, trigger, self.state)
            return False
        return getattr(self, trigger)()

    # ---- the EV-session interface (ports.EvSession): what the SECC calls --------------------------------
    def reset_ev_side(self) -> None:
        """What the car told in its session: forgotten when the session ends."""
        self.evcc_id = ""
        self.ev_parameters: EvChargeParameters | None = None
        self.ev_soc: float | None = None
        self.last_ev_request_t: float | None = None
        self.stop_requested_t: float | None = None
        self.demand: CurrentDemand | None = None

    def ev_setup(self, evcc_id: str) -> Answer:
        return self.ev_requests.setup(evcc_id)

    def ev_authorization(self) -> Answer:
        return self.ev_requests.authorization()

    def ev_charge_parameter_discovery(self, ev: EvChargeParameters) -> Answer:
        return self.ev_requests.charge_parameter_discovery(ev)

    def ev_cable_check_request(self) -> Answer:
        return self.ev_requests.cable_check()

    def ev_precharge_request(self, target_voltage_v: float, target_current_a: float) -> Answer:
        return self.ev_requests.precharge(target_voltage_v, target_current_a)

    def ev_power_delivery(self, start: bool) -> Answer:
        return self.ev_requests.power_delivery(start)

    def ev_current_demand(self, demand: CurrentDemand) -> Answer:
        return self.ev_requests.current_demand(demand)

    def ev_welding_detection(self) -> Answer:
        return self.ev_requests.welding_detection()

    def ev_stop_session(self) -> Answer:
        return self.ev_requests.stop_session()

    def evse_status(self, isolation: IsolationLevel | None = None) -> EvseStatus:
        return self.ev_requests.evse_status(isolation)

    # ---- limits (limits.py) ----------------------------------------------------------------------------
    def power_limit_w(self) -> float:
        return self.limits.power_w()

    def voltage_limit_v(self) -> float:
        return self.limits.voltage_v()

    def current_limit_a(self, voltage_v: float) -> tuple[float, str]:
        return self.limits.current_a(voltage_v)

    def evse_charge_parameters(self) -> EvseChargeParameters:
        return self.limits.evse_charge_parameters()

    def present_voltage(self) -> float:
        return self.measurements.voltage_v()

    def io_contactors_closed(self) -> bool:
        return self.measurements.contactors_closed()

    def io_contactors_open(self) -> bool:
        return self.measurements.contactors_open()

    def cable_check_passed(self) -> bool:
        return self.cable_check.passed

    def cable_check_test_voltage_v(self) -> float:
        """The cable check's test voltage (0 before one started this session)."""
        return self.cable_check.test_voltage_v

    def precharge_reached(self) -> bool:
        return self.charge_control.precharge_reached()

    def cable_check_step(self) -> str:
        return self.cable_check.step

    def fault_active(self, code: str) -> bool:
        return code in self.active_faults

    def state_f_requested(self) -> bool:
        """CP F shown on the connector's own request (an emergency, a communication restart)."""
        return self._state_f_requested

    def contactors_commanded(self) -> bool:
        return self._contactors_commanded

    def note_car_told(self) -> None:
        self.power_down.note_car_told()

    # ---- the control loop: every session's values from their start, and the periodic tick --------------
    def reset_control(self) -> None:
        """Every per-session value of the control loop back to its start (session start, new phases)."""
        self.cable_check.reset()
        self.charge_control.reset()
        self.power_down.reset()
        self.energized_watch.reset()
        self.finish_after_stop = False

    # ---- power down ----------------------------------------------------------------------------------
    def begin_power_down(self, kind: str) -> None:
        """Current to zero at once, and the power-down sequence (power_down.py) from there."""
        self.power_down.begin(kind, self.charge_control.current_to_zero())

    def _output_safe(self) -> None:
        """The power-down sequence ended with the contactors open."""
        self.fire("output_safe")
        if self.finish_after_stop and self.state == "welding_detection":
            self.finish_after_stop = False
            self.fire("ev_session_stop")

    # ---- the periodic tick ---------------------------------------------------------------------------
    def state_elapsed(self, now: float) -> float:
        return now - self.state_entered_t

    def tick(self) -> None:
        with self.power_path("control tick"):
            self._tick()

    def _tick(self) -> None:
        now = self.clock()
        late = self._last_tick_t is not None and now - self._last_tick_t > LATE_TICK_S
        if late and not self._skipped_late_tick:
            self._skipped_late_tick = True
            log.info("connector %d: control tick %.2f s late: skipped once for the queued frames",
                     self.cfg.id, now - self._last_tick_t)
            return
        self._skipped_late_tick = False
        dt = 0.0 if self._last_tick_t is None else min(0.5, now - self._last_tick_t)
        self._last_tick_t = now
        self.supervisor.tick(now)  # measurements that stopped arriving
        state = self.state
        if state == "unavailable":
            if self.can_offer_service():
                self.fire("board_ready")
        elif state == "emergency":
            if self.state_elapsed(now) >= self.charging.emergency_f_hold_s and self._state_f_requested \
                    and not self._cp_loss_fault_active():
                self.set_state_f(False)
                self.io.set_pwm(100.0)
            self.try_recover()
        elif state == "plugged":
            self.communication.tick(now)
        elif state == "cable_check":
            self.cable_check.tick(now)
        elif state == "precharge":
            self.charge_control.precharge_tick(now)
        elif state == "charging":
            self.charge_control.charging_tick(now, dt)
        elif state in ("stopping", "error_shutdown"):
            self.power_down.tick(now)
        self.energized_watch.tick(now)
        self.check_weld()
        self.unlock_when_safe()
        if self.state in SESSION_STATES:
            self.ev_requests.check_timeouts(now)
        if self.session is not None and self.state in ("precharge", "charging", "stopping"):
            self.session.add_power(*self.supervisor.output_sample(), dt)  # volts and amps measured together
            if self.meter is not None:
                self.sessions.meter_tick()

    def _cp_loss_fault_active(self) -> bool:
        return "IO_BOARD_LOST" in self.active_faults

    # ---- the output guard (output_guard.py) and the lock (connector_lock.py) ----------------------------
    def may_energize(self, what: str) -> bool:
        return self.guard.may_energize(what)

    def switch_on(self) -> None:
        self.guard.switch_on()

    def power_path(self, what: str) -> AbstractContextManager[None]:
        return self.guard.power_path(what)

    def fail_safe_off(self) -> None:
        self.guard.fail_safe_off()

    def check_weld(self) -> None:
        self.guard.check_weld()

    def close_contactors_for_test(self) -> bool:
        return self.guard.close_contactors_for_test()

    def lock_state(self) -> str:
        return self.connector_lock.state()

    def lock(self) -> None:
        self.connector_lock.lock()

    def release_lock(self) -> None:
        self.connector_lock.release()

    def unlock_when_safe(self) -> None:
        self.connector_lock.unlock_when_safe()

    def unlock_on_request(self) -> str | None:
        """Unlock now if that is safe (OCPP UnlockConnector); else the reason it was not done."""
        if self._contactors_commanded:
            return "the contactors are closed"
        return self.connector_lock.unlock_on_request()

    # ---- conditions used by the table -------------------------------------------------------------
    def can_offer_service(self) -> bool:
        return self.enabled and bool(self.io.online) and not self.blocking_faults()

    def cp_is_a(self) -> bool:
        return self.cp_state == "A"

    def cp_is_connected(self) -> bool:
        return self.cp_state in ("B", "C")

    def is_authorized(self) -> bool:
        return self.authorized

    def no_blocking_faults(self) -> bool:
        """An error or emergency still active keeps the power off: no new session, cable check or energy."""
        return not self.blocking_faults()

    def blocking_faults(self) -> list[Fault]:
        return [f for f in self.active_faults.values() if f.severity in ("emergency", "error")]

    @property
    def cp_state(self) -> str:
        return self.control_pilot.reported

    # ---- state entry actions ------------------------------------------------------------------------
    def _state_changed(self) -> None:
        self._settled_state = self.state  # an on_enter_* callback reads here the state it came from
        self.state_entered_t = self.clock()
        log.info("connector %d: %s", self.cfg.id, self.state)
        # maintenance: out for maintenance only, an excluded outage
        self._emit(PhaseChanged(self.cfg.id, self.state, self.wall_clock(), maintenance=(
            self.state == "unavailable" and self.maintenance and not self.blocking_faults())))

    def on_enter_unavailable(self) -> None:
        self.power_off_now()
        self.io.set_pwm(100.0 if not self.blocking_faults() else 0.0)

    def on_enter_available(self) -> None:
        self.communication.unplugged()
        self.power_off_now()
        self.set_state_f(False)
        self.io.set_pwm(100.0)
        self.release_lock()
        self.authorized = False
        self._end_session("unplugged")

    def on_enter_plugged(self) -> None:
        self.set_state_f(False)
        self.io.set_pwm(5.0)
        self.authorized = self.charging.auto_authorize
        self.communication.plugged()

    def restart_communication(self, reason: str) -> bool:
        return self.communication.restart(reason)

    def on_enter_negotiating(self) -> None:
        self._start_session()
        self.lock()

    def on_enter_cable_check(self) -> None:
        self.cable_check.start()

    def on_enter_precharge(self) -> None:
        self.charge_control.start_precharge()

    def on_enter_charging(self) -> None:
        self.charge_control.start_charging()

    def on_enter_stopping(self) -> None:
        self.begin_power_down("stop" if self.cp_state in ("C", "D") else "cp_b")

    def on_enter_error_shutdown(self) -> None:
        if self.cp_state not in ("C", "D"):
            self.begin_power_down("cp_b")
        else:  # from charging the car must hear EVSE_Shutdown first: its contactors are closed on ours
            self.begin_power_down("error" if getattr(self, "_settled_state", "") == "charging" else "stop")

    def on_enter_session_end(self) -> None:
        self.power_off_now()
        self.release_lock()
        reason = self.session.stop_reason if self.session and self.session.stop_reason else "ev_session_stop"
        self._end_session(reason)

    def on_enter_emergency(self) -> None:
        self.power_off_now()
        self.set_state_f(True)
        self.release_lock()  # once the cable is below 60 V
        codes = [f.code for f in self.blocking_faults()]
        self._end_session("emergency:" + ",".join(codes) if codes else "emergency")

    # ---- hardware actions -------------------------------------------------------------------------
    def power_off_now(self) -> None:
        """Modules off, then contactors open: the emergency path, synchronous. The contactors open even when
        switching the modules off raised (and the first error goes on up)."""
        try:
            self.group.emergency_off()
        finally:
            self._contactors_commanded = False
            self.io.open_contactors()

    def close_contactors(self) -> None:
        if not self.may_energize("contactors"):
            return
        self._contactors_commanded = True
        self.io.set_max_voltage(self.board_max_voltage_v())  # the board refuses to close without it
        self.io.close_contactors()

    def board_max_voltage_v(self) -> float:
        """The I/O board's own over-voltage limit (second channel): the session maximum, or the cable check's
        test voltage while it runs, plus a margin wider than the supervisor's, which acts first."""
        limit = self.voltage_limit_v()
        if self.state == "cable_check":
            limit = max(limit, self.cable_check.test_voltage_v)
        return limit + max(BOARD_VOLTAGE_MARGIN_V, BOARD_VOLTAGE_MARGIN * limit)

    def open_contactors(self) -> None:
        self._contactors_commanded = False
        self.io.open_contactors()

    def set_state_f(self, on: bool) -> None:
        self._state_f_requested = on
        self.io.set_state_f(on)

    # ---- sessions (session_recorder.py) ----------------------------------------------------------------
    @property
    def session(self) -> SessionRecord | None:
        return self.sessions.session

    @property
    def last_session(self) -> SessionRecord | None:
        return self.sessions.last_session

    def _start_session(self) -> None:
        self.reset_control()  # nothing of the previous car's session (its target voltage) reaches this one
        self.supervisor.reset_session()
        self.sessions.start(self.evcc_id)

    def _end_session(self, reason: str) -> None:
        if self.sessions.end(reason):
            self.reset_ev_side()

    def note_stop_reason(self, reason: str) -> None:
        self.sessions.note_stop_reason(reason)

    # ---- faults (fault_reaction.py) -------------------------------------------------------------------
    def on_fault(self, code: str, detail: str, active: bool) -> None:
        """The FaultListener every driver and the supervisor report to (controller.faults.report_fault)."""
        self.fault_reaction.on_fault(code, detail, active)

    def raise_fault(self, code: str, detail: str = "") -> None:
        self.fault_reaction.raise_fault(code, detail)

    def clear_fault(self, code: str) -> None:
        self.fault_reaction.clear_fault(code)

    def clear_faults(self, kind: str) -> list[str]:
        return self.fault_reaction.clear_faults(kind)

    # ---- measurements (CAN receive path) -------------------------------------------------------------
    def on_io_measure(self, status: IoStatus) -> None:
        """Every I/O board DC measure and temperature frame: the supervisor checks the new sample at once."""
        self._supervised(self.supervisor.check_io, status)

    def on_module_telemetry(self) -> None:
        """Every module answer: the supervisor cross-checks the modules' voltage with the board's."""
        self._supervised(self.supervisor.check_modules)

    def _supervised(self, check: Callable[..., None], *args: IoStatus) -> None:
        try:
            check(*args)
        except Exception:  # a supervisor that cannot judge leaves no power on
            log.exception("connector %d: safety supervisor failed; cutting power", self.cfg.id)
            self.power_off_now()
            self.raise_fault("CONTROLLER_INTERNAL", "safety supervisor failed")

    # ---- control pilot (control_pilot.py) --------------------------------------------------------------
    def on_io_status(self, status: IoStatus) -> None:
        """I/O board callback; runs inside the CAN receive path."""
        self.control_pilot.on_status(status)

    def try_recover(self) -> None:
        if self.state == "emergency" and not self.blocking_faults():
            if self.clock() - self.state_entered_t >= self.charging.emergency_f_hold_s:
                self.set_state_f(False)
                self.fire("recover")

    # ---- technician and services -------------------------------------------------------------------
    def set_enabled(self, enabled: bool, *, maintenance: bool = False) -> None:
        """`maintenance`: taken out for scheduled maintenance, an outage NEVI excludes from uptime."""
        self.enabled = enabled
        self.maintenance = maintenance and not enabled
        if enabled:
            self.fire("enable")
        else:
            self.fire("disable")

    def clear_latched(self) -> list[str]:
        """Clear latched faults whose condition is gone; those still present (a pressed e-stop) stay."""
        codes = self.fault_reaction.clear_latched()
        self.try_recover()
        return codes

    def authorize(self) -> None:
        self.authorized = True

    def request_stop(self, reason: str = "user_stop") -> bool:
        """Ask the car to stop (EVSENotification StopCharging); forced after a timeout by the control loop."""
        if self.state not in SESSION_STATES:
            return False
        self.note_stop_reason(reason)
        self.stop_requested_t = self.clock()
        return True

    def snapshot(self) -> dict:
        st = self.io.status
        volts, amps = self.supervisor.output_sample()  # measured together, never a stale current
        power_w, power_source = volts * amps, "modules"
        if self.meter is not None and self.meter.fresh:
            power_w, power_source = self.meter.latest.power_w, "meter"
        return {
            "connector": self.cfg.id, "type": self.cfg.type, "state": self.state, "cp": self.cp_state,
            "voltage_v": round(self.present_voltage(), 1), "current_a": round(self.group.output_current_a, 1),
            "power_kw": round(power_w / 1000.0, 2), "power_source": power_source,
            "soc": self.ev_soc, "contactors_closed": bool(st and st.dc_plus_closed and st.dc_minus_closed),
            "modules_on": self.group.is_on,
            "session": self.session.to_json() if self.session else None,
            "faults": [f.code for f in self.active_faults.values()],
        }
