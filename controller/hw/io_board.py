"""Driver for the I/O board of one connector over `dbc/io_board.dbc` (our own protocol).

The controller sends a command frame every 50 ms with a rolling heartbeat counter and an end-to-end CRC
(controller/formats/can/e2e.py); the board answers with a status frame every 20 ms and on change, a DC measure every
20 ms and temperatures at 1 Hz. Every frame ID is the DBC's base ID plus the connector id.

The board is the second channel: it trips by itself (heartbeat lost, rejected commands, cable voltage above the
MaxVoltage programmed with set_max_voltage) and stays tripped until this driver sends the reset sequence, which
it does only while its contactor command is open. Commands, heartbeat included, go out only while
`heartbeat_allowed()` says the controller's tasks are alive (controller/task_supervisor.py). The status echo
must follow the counters sent, or the board counts as lost.

Everything that reacts to a fault runs synchronously in the CAN receive handler: `on_fault` and `on_status`
are called from inside it, and the command setters send their frame at once, so the connector can open the
contactors in the same call that reported the e-stop.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import can

from controller.faults import FaultListener, report_fault
from controller.hw.can_port import CanPort
from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import ProtectedEncoder
from controller.formats.can.codec import FrameRejected, decode_defined, decode_marking_bad

log = logging.getLogger(__name__)

StatusSink = Callable[["IoStatus"], None]

MAX_CONNECTOR_ID = 15
MAX_VOLTAGE_V = 1500.0  # IoCommand.MaxVoltage range
# Silence is counted in the driver's own periods: a gap between two of its turns counts at most this much, so
# a process that was not scheduled for a while does not call the board lost before reading what it sent.
MAX_SILENCE_STEP_S = 0.1
# The status echo follows the commands when it is one of the last ECHO_WINDOW counters sent (bursts of
# commands in one turn stay inside). Board lost: more than ECHO_LAG_FRAMES status frames in a row that do not
# follow, read over more than ECHO_LAG_TURNS of the driver's own turns; a backlog read after a stall of this
# process (frames the board sent before our commands reached it) spans one or two turns, never five.
ECHO_WINDOW = 8
ECHO_LAG_FRAMES = 10
ECHO_LAG_TURNS = 4
# Below the over-temperature threshold by this much before the fault clears (no chatter at the limit).
OVERTEMPERATURE_HYSTERESIS_C = 5.0
# Fields of IoStatus that do not make a status "changed" for on_status.
_NOT_A_CHANGE = ("heartbeat_echo", "t", "cable_voltage_v", "temp_dc_plus_c", "temp_dc_minus_c", "temp_cable_c",
                 "cable_current_a", "measure_t", "temps_t")
SAFE_SUBSTITUTES = {"CpState": 6, "LockState": 2}  # an undefined CP reads INVALID, an undefined lock FAULT
CP_READING = ("CpState", "CpHighVoltage", "CpLowVoltage", "CpDutyMeasured")
# measure_t before the first IoDcMeasure: infinitely old, so any staleness check calls it stale
NEVER = float("-inf")


@dataclass(frozen=True)
class IoStatus:
    """What the board last reported: the status frame plus the latest DC measure and temperatures."""
    cp_state: str  # "A".."F" or "INVALID"
    cp_high_v: float
    cp_low_v: float
    proximity: str  # "NOT_CONNECTED", "CONNECTED", "BUTTON_PRESSED", "INVALID"
    dc_plus_closed: bool
    dc_minus_closed: bool
    lock_state: str  # "UNLOCKED", "LOCKED", "FAULT"
    estop: bool
    watchdog_tripped: bool  # the board holds the safe state after a trip (any cause)
    heartbeat_echo: int
    cp_duty_measured: float
    cable_voltage_v: float
    temp_dc_plus_c: float | None
    temp_dc_minus_c: float | None
    temp_cable_c: float | None
    t: float  # clock() when the last status frame arrived
    cable_current_a: float = 0.0  # board's own shunt, positive into the car
    measure_t: float = NEVER  # clock() of the last IoDcMeasure (NEVER before the first)
    temps_t: float | None = None  # clock() of the last IoTemperatures (None before the first)
    trip_cause: str = "NONE"  # TripCause: NONE, HEARTBEAT_LOST, COMMANDS_REJECTED, OVERVOLTAGE (UNKNOWN otherwise)


class IoBoard:
    """One connector's I/O board: cached command, decoded status, and the faults the board can show."""

    def __init__(self, port: CanPort, connector_id: int, *, command_period_s: float = 0.05,
                 lost_after_s: float = 0.3, overtemperature_c: float = 90.0,
                 on_status: StatusSink, on_fault: FaultListener,
                 clock: Callable[[], float] = time.monotonic,
                 heartbeat_allowed: Callable[[], bool] = lambda: True):
        if not 1 <= connector_id <= MAX_CONNECTOR_ID:
            raise ValueError(f"connector_id {connector_id} outside 1..{MAX_CONNECTOR_ID} (io_board.dbc)")
        if command_period_s <= 0 or lost_after_s <= 0:
            raise ValueError("command_period_s and lost_after_s must be positive")
        self.port = port
        self.connector_id = connector_id
        self.command_period_s = command_period_s
        self.lost_after_s = lost_after_s
        self.overtemperature_c = overtemperature_c
        self._on_status = on_status
        self._on_fault = on_fault
        self.clock = clock
        self.heartbeat_allowed = heartbeat_allowed
        db = load_dbc("io_board")
        self._command_msg = db.get_message_by_name("IoCommand")
        self._status_msg = db.get_message_by_name("IoStatus")
        self._measure_msg = db.get_message_by_name("IoDcMeasure")
        self._temps_msg = db.get_message_by_name("IoTemperatures")
        self._status_choices = {s.name: s.choices for s in self._status_msg.signals}
        # the command, resent every period
        self._duty_pct = 0.0
        self._state_f = False
        self._close = False
        self._lock = False
        self._max_voltage_v = 0.0  # not programmed: the board refuses to close
        self._counter = 0
        self._sent_counters: deque[int] = deque(maxlen=ECHO_WINDOW)
        self._data_id = self._command_msg.frame_id + connector_id
        self._command_encoder = ProtectedEncoder(self._command_msg, self._data_id, counter_signal="HeartbeatCounter")
        self._stopped = False
        # what the board told us
        self._status: IoStatus | None = None
        self._cable_voltage_v = 0.0
        self._cable_current_a = 0.0
        self._measure_t = NEVER
        self._temps_t: float | None = None
        self._temps: tuple[float | None, float | None, float | None] = (None, None, None)
        self._link_since: float | None = None  # clock() from which silence counts
        self._silence_s = 0.0  # credited silence since the last status frame (see MAX_SILENCE_STEP_S)
        self._silence_t: float | None = None  # clock() of the last credit step
        self._echo_lag = 0  # status frames in a row whose echo does not follow the commands
        self._echo_lag_turns = 0  # driver turns (check_link calls) during which the echo did not follow
        self._echo_lagged_this_turn = False
        self._lagging_echo = 0
        self._notified_key: tuple | None = None  # status content last handed to on_status
        self._active: set[str] = set()
        self._measure_listener: StatusSink | None = None  # the safety supervisor: every DC measure, temperatures

    # ---- public state ------------------------------------------------------------------------------------
    @property
    def status(self) -> IoStatus | None:
        return self._status

    @property
    def online(self) -> bool:
        return self._status is not None and "IO_BOARD_LOST" not in self._active \
            and self._credited_silence(self.clock()) <= self.lost_after_s

    @property
    def max_voltage_v(self) -> float:
        """The MaxVoltage in the command (0 = not programmed)."""
        return self._max_voltage_v

    @property
    def contactors_closed(self) -> bool:
        st = self._status
        return bool(st and st.dc_plus_closed and st.dc_minus_closed)

    @property
    def contactors_open(self) -> bool:
        st = self._status
        return bool(st and not st.dc_plus_closed and not st.dc_minus_closed)

    @property
    def heartbeat_counter(self) -> int:
        """The counter of the last command frame sent."""
        return self._counter

    def listen_measurements(self, listener: StatusSink) -> None:
        """Call `listener(status)` after every DC measure and temperature frame (once a status exists), inside
        the receive handler: on_status only hears status changes, a supervisor must see every sample."""
        self._measure_listener = listener

    # ---- commands (each sends a frame at once) ------------------------------------------------------------
    def set_pwm(self, duty_pct: float) -> None:
        """100 = static +12 V, 5 = digital communication, 0 = PWM off."""
        if not isinstance(duty_pct, (int, float)) or math.isnan(duty_pct) or not 0.0 <= duty_pct <= 100.0:
            raise ValueError(f"CP duty {duty_pct!r} outside 0..100 %")
        self._duty_pct = round(float(duty_pct), 1)
        self.send_command()

    def set_state_f(self, on: bool) -> None:
        self._state_f = bool(on)
        self.send_command()

    def close_contactors(self) -> None:
        if self._max_voltage_v <= 0.0:
            log.warning("I/O board %d: close without a MaxVoltage: the board refuses", self.connector_id)
        self._close = True
        self.send_command()

    def open_contactors(self) -> None:
        """Open, and forget the session's maximum voltage: the next close needs set_max_voltage again."""
        self._close = False
        self._max_voltage_v = 0.0
        self.send_command()

    def set_max_voltage(self, volts: float) -> None:
        """The cable voltage above which the board opens by itself; it refuses to close until this is set."""
        if not isinstance(volts, (int, float)) or math.isnan(volts) or not 0.0 < volts <= MAX_VOLTAGE_V:
            raise ValueError(f"max voltage {volts!r} outside 0..{MAX_VOLTAGE_V:.0f} V")
        self._max_voltage_v = round(float(volts), 1)
        self.send_command()

    def set_lock(self, locked: bool) -> None:
        self._lock = bool(locked)
        self.send_command()

    def send_command(self) -> bool:
        """Send the cached command with the next heartbeat value and its CRC (not while stopped, and not
        while the task supervisor holds the heartbeat: then the board trips by itself)."""
        if self._stopped or not self.heartbeat_allowed():
            return False
        self._counter = (self._counter + 1) & 0xFF
        st = self._status
        values = {
            "CpDuty": self._duty_pct,
            "RequestStateF": int(self._state_f), "DcPlusClose": int(self._close), "DcMinusClose": int(self._close),
            "LockRequest": int(self._lock), "MaxVoltage": self._max_voltage_v,
            # the reset sequence: only while the board holds a trip and our own command is open
            "ResetRequest": int(bool(st and st.watchdog_tripped) and not self._close),
        }
        data = self._command_encoder.encode(values, self._counter)
        self._sent_counters.append(self._counter)
        return self.port.send(self._data_id, data)

    # ---- lifecycle --------------------------------------------------------------------------------------
    def attach(self) -> None:
        # status (e-stop, watchdog) and temperatures (over-temperature) can report faults: ahead of the DC
        # measure in a received batch
        for message, handler, urgent in ((self._status_msg, self._handle_status, True),
                                         (self._measure_msg, self._handle_measure, False),
                                         (self._temps_msg, self._handle_temperatures, True)):
            self.port.on(message.frame_id + self.connector_id, handler, urgent=urgent)

    async def run(self) -> None:
        """Send the command every period and watch for board silence until stop() or cancel."""
        self._stopped = False
        loop = asyncio.get_running_loop()
        if self._link_since is None:
            self._link_since = self.clock()
        next_t = loop.time()
        while not self._stopped:
            self.send_command()
            self.check_link()
            # Fixed-rate schedule; after a long stall start again from now instead of bursting.
            next_t = max(next_t + self.command_period_s, loop.time())
            await asyncio.sleep(next_t - loop.time())

    def stop(self) -> None:
        self._stopped = True

    def check_link(self) -> None:
        """Report IO_BOARD_LOST once the board has been silent for longer than lost_after_s (run() calls this).

        Silence is credited per call, at most MAX_SILENCE_STEP_S each: after a stall of this process the
        status frames waiting in the receive queue are read before the board can be judged silent."""
        now = self.clock()
        if self._link_since is None:
            self._link_since = now
        self._silence_s = self._credited_silence(now)
        self._silence_t = now
        if self._echo_lagged_this_turn:
            self._echo_lagged_this_turn = False
            self._echo_lag_turns += 1
            self._judge_echo_lag()
        if self._silence_s > self.lost_after_s:
            self._set_fault("IO_BOARD_LOST", True, f"no status from the I/O board for {self._silence_s:.2f} s "
                                                   "of the controller's own time")

    def _credited_silence(self, now: float) -> float:
        last = self._silence_t if self._silence_t is not None else self._link_since
        if last is None:
            return 0.0
        return self._silence_s + min(max(0.0, now - last), MAX_SILENCE_STEP_S)

    # ---- receive handlers (synchronous, in the event-loop thread) ------------------------------------------
    def _handle_status(self, msg: can.Message) -> None:
        v, bad = decode_marking_bad(self._status_msg, msg)
        for name in bad:  # the safety bits are single bits and always valid; substitute what is not
            if name in SAFE_SUBSTITUTES:
                v[name] = SAFE_SUBSTITUTES[name]
        if any(name in CP_READING for name in bad):
            v["CpState"] = SAFE_SUBSTITUTES["CpState"]  # a CP reading that is out of range is not a state
        choices = self._status_choices
        temp_plus, temp_minus, temp_cable = self._temps
        now = self.clock()
        status = IoStatus(
            cp_state=str(choices["CpState"][v["CpState"]]),
            cp_high_v=round(v["CpHighVoltage"], 1), cp_low_v=round(v["CpLowVoltage"], 1),
            proximity=str(choices["ProximityState"][v["ProximityState"]]),
            dc_plus_closed=bool(v["DcPlusClosed"]), dc_minus_closed=bool(v["DcMinusClosed"]),
            lock_state=str(choices["LockState"][v["LockState"]]),
            estop=bool(v["Estop"]), watchdog_tripped=bool(v["WatchdogTripped"]),
            heartbeat_echo=int(v["HeartbeatEcho"]), cp_duty_measured=round(v["CpDutyMeasured"], 1),
            cable_voltage_v=self._cable_voltage_v,
            temp_dc_plus_c=temp_plus, temp_dc_minus_c=temp_minus, temp_cable_c=temp_cable,
            t=now, cable_current_a=self._cable_current_a, measure_t=self._measure_t,
            temps_t=self._temps_t,
            trip_cause=str(choices["TripCause"].get(v["TripCause"], "UNKNOWN")) if v["WatchdogTripped"] else "NONE",
        )
        self._status = status
        self._silence_s, self._silence_t = 0.0, now
        self._check_echo(status.heartbeat_echo)
        # Faults before on_status: the connector must see the e-stop before the contactors it opened.
        delivered = self._set_fault("ESTOP_PRESSED", status.estop,
                                    "emergency stop pressed" if status.estop else "emergency stop released")
        delivered = self._report_trip(status) and delivered
        if not self._echo_lagging():
            delivered = self._set_fault("IO_BOARD_LOST", False, "status received again, echo follows the commands") \
                and delivered
        if not delivered:  # the rest of this frame waits until its faults were taken: the next frame
            raise FrameRejected("IoStatus: a fault reaction failed; the frame is delivered again with the next")
        key = _status_key(status)
        if key != self._notified_key:
            self._on_status(status)
            # Only after on_status returned: if it raised, the next frame delivers the change again.
            self._notified_key = key
        if bad:  # counted and logged by the port; everything that could be used was used
            raise FrameRejected(f"IoStatus: {'; '.join(bad.values())} (read as safe values)")

    def _check_echo(self, echo: int) -> None:
        """The board echoes the last command it accepted: it must be one we sent lately."""
        if not self._sent_counters or echo in self._sent_counters:
            self._echo_lag = self._echo_lag_turns = 0
            self._echo_lagged_this_turn = False
            return
        self._echo_lag += 1
        self._echo_lagged_this_turn = True
        self._lagging_echo = echo
        self._judge_echo_lag()

    def _echo_lagging(self) -> bool:
        return self._echo_lag > ECHO_LAG_FRAMES and self._echo_lag_turns > ECHO_LAG_TURNS

    def _judge_echo_lag(self) -> None:
        if self._echo_lagging():
            self._set_fault("IO_BOARD_LOST", True, f"board echoes heartbeat {self._lagging_echo}, last sent "
                                                   f"{self._sent_counters[-1]}: it does not follow the commands")

    def _report_trip(self, status: IoStatus) -> bool:
        overvoltage = status.watchdog_tripped and status.trip_cause == "OVERVOLTAGE"
        # the board's own trip is an emergency of its own (latched in the connector: the clear ends the condition)
        delivered = self._set_fault("IO_BOARD_OVERVOLTAGE_TRIP", overvoltage,
                                    "the I/O board opened the contactors: cable voltage above the programmed "
                                    "maximum" if overvoltage else "board reset after the over-voltage trip")
        watchdog = status.watchdog_tripped and not overvoltage
        return self._set_fault("IO_WATCHDOG_TRIPPED", watchdog,
                               f"board tripped ({status.trip_cause}) and opened the contactors" if watchdog
                               else "board not tripped") and delivered

    def _handle_measure(self, msg: can.Message) -> None:
        v = decode_defined(self._measure_msg, msg)
        self._cable_voltage_v = round(v["CableVoltage"], 1)
        self._cable_current_a = round(v["CableCurrent"], 1)
        self._measure_t = self.clock()
        if self._status is not None:
            self._status = dataclasses.replace(self._status, cable_voltage_v=self._cable_voltage_v,
                                               cable_current_a=self._cable_current_a, measure_t=self._measure_t)
            if self._measure_listener is not None:
                self._measure_listener(self._status)

    def _handle_temperatures(self, msg: can.Message) -> None:
        v = decode_defined(self._temps_msg, msg)
        temps = (round(v["TempDcPlus"], 1), round(v["TempDcMinus"], 1), round(v["TempCable"], 1))
        self._temps = temps
        self._temps_t = self.clock()
        if self._status is not None:
            self._status = dataclasses.replace(self._status, temp_dc_plus_c=temps[0], temp_dc_minus_c=temps[1],
                                               temp_cable_c=temps[2], temps_t=self._temps_t)
        self._check_temperatures(temps)
        if self._measure_listener is not None and self._status is not None:
            self._measure_listener(self._status)

    def _check_temperatures(self, temps: tuple[float, float, float]) -> None:
        names = ("DC+ pin", "DC- pin", "cable")
        hottest_name, hottest = max(zip(names, temps), key=lambda item: item[1])
        if hottest > self.overtemperature_c:
            self._set_fault("CONNECTOR_OVERTEMPERATURE", True,
                            f"{hottest_name} at {hottest:.1f} degC (limit {self.overtemperature_c:.1f})")
        elif hottest < self.overtemperature_c - OVERTEMPERATURE_HYSTERESIS_C:
            self._set_fault("CONNECTOR_OVERTEMPERATURE", False, f"hottest ({hottest_name}) at {hottest:.1f} degC")

    def _set_fault(self, code: str, active: bool, detail: str) -> bool:
        """Report a transition once; repeated frames with the same condition stay quiet. Returns False when the
        reaction raised: not recorded, so the next frame (or link check) reports it again."""
        if active == (code in self._active):
            return True
        if not report_fault(self._on_fault, f"I/O board {self.connector_id}", code, detail, active):
            return False
        if active:
            self._active.add(code)
        else:
            self._active.discard(code)
        return True


_CHANGE_FIELDS = tuple(f.name for f in dataclasses.fields(IoStatus) if f.name not in _NOT_A_CHANGE)


def _status_key(status: IoStatus) -> tuple:
    """The status-frame content that counts as a change (not the echo, the time or the other frames)."""
    return tuple(getattr(status, name) for name in _CHANGE_FIELDS)
