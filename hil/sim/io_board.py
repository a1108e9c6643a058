"""The rig's I/O board: speaks `dbc/io_board.dbc` as the board side for one connector plant.

It generates the CP levels from the car's resistor state and its own output, closes the plant's contactors
after a contactor's delay, reports an e-stop like the safety MCU would (it opens the contactors itself), and
models the pin and cable temperatures from the output current. As the second channel it checks every command
(CRC over data id + payload, alive counter) and trips by itself, opening at once and showing CP F until the
reset sequence, on: no accepted command for watchdog_s, too many rejected commands, cable voltage above the
commanded MaxVoltage. On C/D -> B (or any CP state that is not C/D) with the contactors closed it opens them
at its next sample (20 ms) without a trip. The contract is written in dbc/io_board.dbc.

The watchdog counts time only while this simulator itself runs: a gap between two of its ticks counts at most
MAX_TICK_CREDIT_S, so a rig process that was not scheduled does not trip on commands still in its queue.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Callable

import can

from controller.formats.can.codec import FrameRejected, decode_frame
from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import counter_ok, e2e_crc
from hil.plant import ConnectorPlant
from hil.wires.can import RigCanBus

log = logging.getLogger(__name__)

MAX_CONNECTOR_ID = 15
STATUS_PERIOD_S = 0.02
TEMPERATURE_PERIOD_S = 1.0
# CP high level (V) for each resistor state the car can present (IEC 61851-1).
CP_HIGH_V = {"A": 12.0, "B": 9.0, "C": 6.0, "D": 3.0, "E": 0.0}
CP_STATE_CODES = {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4, "F": 5, "INVALID": 6}
LOCK_CODES = {False: 0, True: 1}  # UNLOCKED, LOCKED
TRIP_CODES = {None: 0, "HEARTBEAT_LOST": 1, "COMMANDS_REJECTED": 2, "OVERVOLTAGE": 3}
CLOSE_DELAY_S = 0.05  # a DC contactor's closing time
MAX_TICK_CREDIT_S = 2 * STATUS_PERIOD_S  # a late tick counts as two periods at most
REJECT_WINDOW = 8  # the last commands judged
REJECT_LIMIT = 3  # rejected among them: trip
RESET_FRAMES = 3
OVERVOLTAGE_SAMPLES = 2  # consecutive 20 ms samples above MaxVoltage
CP_CLOSED_STATES = ("C", "D")

# Thermal model: rise = k * I^2 at steady state, reached with a first-order time constant.
AMBIENT_C = 25.0
PIN_RISE_K_PER_A2 = 6e-4  # 200 A -> +24 K
CABLE_RISE_K_PER_A2 = 4e-4  # 200 A -> +16 K
THERMAL_TAU_S = 30.0


class IoBoardSim:
    """Board side of one connector's I/O protocol, on top of a `ConnectorPlant`."""

    def __init__(self, port: RigCanBus, plant: ConnectorPlant, *, contactor_delay_s: float = CLOSE_DELAY_S,
                 watchdog_s: float = 0.3, clock: Callable[[], float] = time.monotonic,
                 connector_id: int | None = None):
        self.connector_id = plant.connector_id if connector_id is None else connector_id
        if not 1 <= self.connector_id <= MAX_CONNECTOR_ID:
            raise ValueError(f"connector_id {self.connector_id} outside 1..{MAX_CONNECTOR_ID} (io_board.dbc)")
        self.port = port
        self.plant = plant
        self.contactor_delay_s = contactor_delay_s
        self.watchdog_s = watchdog_s
        self.clock = clock
        db = load_dbc("io_board")
        self._command_msg = db.get_message_by_name("IoCommand")
        self._status_msg = db.get_message_by_name("IoStatus")
        self._measure_msg = db.get_message_by_name("IoDcMeasure")
        self._temps_msg = db.get_message_by_name("IoTemperatures")
        # last accepted command
        self._duty_pct = 0.0
        self._state_f_requested = False
        self._close_plus = False
        self._close_minus = False
        self._lock = False
        self._max_voltage_v = 0.0
        self._close_armed = True  # False after the board opened by itself, until a command asks open
        self._last_counter: int | None = None
        self._echo: int | None = None  # counter of the last accepted command
        self._silent_s: float | None = None  # credited time without an accepted command; None = not armed
        self._last_tick_t: float | None = None
        self._fresh_t: float | None = None  # clock() of the last accepted command: silence counts from there
        self._verdicts: deque[bool] = deque(maxlen=REJECT_WINDOW)  # True = rejected
        self._reset_frames = 0
        self._overvoltage_samples = 0
        self._last_cp: str | None = None
        # board state
        self._trip: str | None = None  # TRIP_CODES key
        self._estop = False
        self._last_status_key: tuple | None = None
        self._last_temps_t: float | None = None
        self._last_thermal_t: float | None = None
        self._rise_pin_c = 0.0
        self._rise_cable_c = 0.0
        self._temperature_offset_c = 0.0
        # fault injection at the wires (hil/injection): set by the rig, read where the frames are made
        self.powered = True  # False: the board is dead, no frames either way, contactor coils unpowered
        self.measure_silent = False  # no IoDcMeasure frames
        self.measure_stuck_v: float | None = None  # IoDcMeasure reports this voltage, whatever the cable has
        self.temperature_stuck_c: float | None = None  # every temperature reads this (an open sensor: -50)
        self.lock_fault = False  # the lock's feedback reports FAULT
        self.cp_forced: str | None = None  # the CP line shows this state (e.g. "F") whatever the car presents
        self.welded = False  # the contacts stay closed when the coils are released
        self.commands_received = 0
        self.stale_commands = 0  # rejected for their counter
        self.rejected_commands = 0  # CRC or counter
        self.trips: list[str] = []

    # ---- observed state -----------------------------------------------------------------------------------
    @property
    def cp_state(self) -> str:
        if self._state_f_requested or self._trip:
            return "F"
        if self.cp_forced:
            return self.cp_forced
        return self.plant.ev_cp_state if self.plant.ev_cp_state in CP_HIGH_V else "INVALID"

    @property
    def watchdog_tripped(self) -> bool:
        return self._trip is not None

    @property
    def trip_cause(self) -> str | None:
        return self._trip

    @property
    def max_voltage_v(self) -> float:
        return self._max_voltage_v

    @property
    def close_requested(self) -> bool:
        """The board drives a contactor coil (what a welded contact cannot follow)."""
        return self._close_plus or self._close_minus

    @property
    def estop(self) -> bool:
        return self._estop

    @property
    def commanded_duty(self) -> float:
        return self._duty_pct

    @property
    def heartbeat_echo(self) -> int:
        return self._echo or 0

    def temperatures_c(self) -> tuple[float, float, float]:
        """DC+ pin, DC- pin, cable."""
        pin = AMBIENT_C + self._rise_pin_c + self._temperature_offset_c
        cable = AMBIENT_C + self._rise_cable_c + self._temperature_offset_c
        return pin, pin, cable

    # ---- fault injection --------------------------------------------------------------------------------
    def press_estop(self) -> None:
        """The safety MCU opens both contactors itself, at once, and reports Estop=1."""
        self._estop = True
        self._open_by_itself()
        self.send_status_if_changed()

    def release_estop(self) -> None:
        # The close requests were dropped when it was pressed: the contactors stay open until commanded again.
        self._estop = False
        self.send_status_if_changed()

    def inject_temperature_c(self, delta_c: float) -> None:
        """Add `delta_c` to every temperature reading (cumulative) and report the new readings at once."""
        self._temperature_offset_c += delta_c
        self._send_temperatures()

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def attach(self) -> None:
        self.port.on(self._command_msg.frame_id + self.connector_id, self._handle_command)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            self.tick()
            next_t = max(next_t + STATUS_PERIOD_S, loop.time())
            await asyncio.sleep(next_t - loop.time())

    def tick(self) -> None:
        """One status period: watchdog, second-channel checks, thermal model, periodic frames (every 20 ms)."""
        now = self.clock()
        if not self.powered:
            self._last_tick_t = now
            self._open_by_itself()
            return
        since = max((t for t in (self._last_tick_t, self._fresh_t) if t is not None), default=now)
        gap = min(max(0.0, now - since), MAX_TICK_CREDIT_S)
        self._last_tick_t = now
        if self._silent_s is not None:
            self._silent_s += gap
            if not self._trip and self._silent_s > self.watchdog_s:
                self._trip_now("HEARTBEAT_LOST", f"no accepted command for {self._silent_s:.3f} s")
        self._check_cp()
        self._check_voltage()
        self._step_thermal(now)
        self.send_status()
        self._send_measure()
        if self._last_temps_t is None or now - self._last_temps_t >= TEMPERATURE_PERIOD_S:
            self._send_temperatures()

    def _check_cp(self) -> None:
        """IEC 61851-1 A.6 seq. 8.1: CP leaving C/D with the contactors closed opens them (no trip)."""
        cp = self.cp_forced or self.plant.ev_cp_state  # what the board measures on the line
        left = self._last_cp in CP_CLOSED_STATES and cp not in CP_CLOSED_STATES
        self._last_cp = cp
        if left and (self._closing or self.plant.dc_plus_closed or self.plant.dc_minus_closed):
            log.info("io sim %d: CP %s with contactors closed, opening", self.connector_id, cp)
            self._open_by_itself()
            self.send_status_if_changed()

    def _check_voltage(self) -> None:
        closed = self.plant.dc_plus_closed and self.plant.dc_minus_closed
        if closed and self.plant.cable_voltage_v > self._max_voltage_v:
            self._overvoltage_samples += 1
            if self._overvoltage_samples >= OVERVOLTAGE_SAMPLES and not self._trip:
                self._trip_now("OVERVOLTAGE", f"cable at {self.plant.cable_voltage_v:.1f} V, "
                                              f"maximum {self._max_voltage_v:.1f} V")
        else:
            self._overvoltage_samples = 0

    # ---- command handling -----------------------------------------------------------------------------------
    @property
    def _closing(self) -> bool:
        return self._close_plus or self._close_minus

    def _handle_command(self, msg: can.Message) -> None:
        if not self.powered:
            return
        v = decode_frame(self._command_msg, msg)
        if v["CpDuty"] > 100.05:
            raise FrameRejected(f"IoCommand: CpDuty {v['CpDuty']:.1f} above 100 %")
        self.commands_received += 1
        data_id = self._command_msg.frame_id + self.connector_id
        counter = int(v["HeartbeatCounter"])
        if e2e_crc(data_id, bytes(msg.data[1:])) != int(v["Crc"]):
            self._reject("CRC")
            return
        fresh = counter_ok(self._last_counter, counter)
        self._last_counter = counter  # a wrong step still becomes the reference (resynchronisation)
        if not fresh:
            self.stale_commands += 1
            self._reject(f"counter {counter}")
            return
        self._verdicts.append(False)
        self._echo = counter
        self._silent_s, self._fresh_t = 0.0, self.clock()
        self._duty_pct = round(v["CpDuty"], 1)
        self._state_f_requested = bool(v["RequestStateF"])
        self._lock = bool(v["LockRequest"])
        self._max_voltage_v = round(v["MaxVoltage"], 1)
        plus, minus = bool(v["DcPlusClose"]), bool(v["DcMinusClose"])
        if self._trip:
            self._reset_step(bool(v["ResetRequest"]) and not plus and not minus)
            plus = minus = False
        elif not plus and not minus:
            self._close_armed = True
        if self._estop or not self._close_armed or self._max_voltage_v <= 0.0:
            plus = minus = False  # refused: e-stop, no open command since the board opened, no maximum set
        if (plus, minus) != (self._close_plus, self._close_minus):
            self._close_plus, self._close_minus = plus, minus
            self._schedule_contactors()
        self.send_status_if_changed()

    def _reject(self, why: str) -> None:
        self.rejected_commands += 1
        self._verdicts.append(True)
        self._reset_frames = 0
        if not self._trip and sum(self._verdicts) >= REJECT_LIMIT:
            self._trip_now("COMMANDS_REJECTED", f"{sum(self._verdicts)} of the last {len(self._verdicts)} "
                                                f"commands rejected (last: {why})")

    def _reset_step(self, requested: bool) -> None:
        self._reset_frames = self._reset_frames + 1 if requested else 0
        if self._reset_frames >= RESET_FRAMES:
            log.info("io sim %d: reset sequence complete, trip %s cleared", self.connector_id, self._trip)
            self._trip = None
            self._reset_frames = 0
            self._verdicts.clear()
            self._close_armed = True  # the reset frames all asked open
            self.send_status_if_changed()

    def _schedule_contactors(self) -> None:
        closing = self._close_plus or self._close_minus
        if not closing or self.contactor_delay_s <= 0:
            self._settle_contactors()  # opening is immediate in the model; closing takes the contactor's time
        else:
            asyncio.get_running_loop().call_later(self.contactor_delay_s, self._settle_contactors)

    def _settle_contactors(self) -> None:
        """Move the contacts to the requests in force now (a request withdrawn meanwhile never lands)."""
        self.plant.dc_plus_closed = self._close_plus or (self.welded and self.plant.dc_plus_closed)
        self.plant.dc_minus_closed = self._close_minus or (self.welded and self.plant.dc_minus_closed)
        self.send_status_if_changed()

    def _open_by_itself(self) -> None:
        """The board opens on its own; it closes again only after a command that asks open."""
        self._close_plus = self._close_minus = False
        self._close_armed = False
        if not self.welded:
            self.plant.dc_plus_closed = self.plant.dc_minus_closed = False

    def _trip_now(self, cause: str, detail: str) -> None:
        log.warning("io sim %d: trip %s: %s; contactors open", self.connector_id, cause, detail)
        self._trip = cause
        self.trips.append(cause)
        self._reset_frames = 0
        self._open_by_itself()
        self.send_status_if_changed()

    # ---- frames out -------------------------------------------------------------------------------------------
    def _status_values(self) -> dict:
        state = self.cp_state
        if state == "F":
            high = low = -12.0
            duty = 0.0
        else:
            high = CP_HIGH_V.get(state, 0.0)
            pwm_running = 0.0 < self._duty_pct < 100.0
            # The car's diode lets the negative half through; a short (E) pins both levels to 0 V.
            low = -12.0 if pwm_running and state != "E" else high
            duty = self._duty_pct if pwm_running else 100.0
        plugged = self.plant.ev_cp_state in CP_HIGH_V and self.plant.ev_cp_state != "A"
        return {
            "CpState": CP_STATE_CODES[state], "Estop": int(self._estop),
            "DcPlusClosed": int(self.plant.dc_plus_closed), "DcMinusClosed": int(self.plant.dc_minus_closed),
            "LockState": 2 if self.lock_fault else LOCK_CODES[self._lock], "CpHighVoltage": high, "CpLowVoltage": low,
            "ProximityState": 1 if plugged else 0, "WatchdogTripped": int(self._trip is not None),
            "TripCause": TRIP_CODES[self._trip], "HeartbeatEcho": self.heartbeat_echo, "CpDutyMeasured": duty,
        }

    def send_status(self) -> None:
        if not self.powered:
            return
        values = self._status_values()
        self._last_status_key = _without_echo(values)
        data = self._status_msg.encode(values, strict=True)
        self.port.send(self._status_msg.frame_id + self.connector_id, data)

    def send_status_if_changed(self) -> None:
        """Status goes out at once on any change (the echo alone is not a change)."""
        if _without_echo(self._status_values()) != self._last_status_key:
            self.send_status()

    def _send_measure(self) -> None:
        if self.measure_silent:
            return
        measured = self.plant.cable_voltage_v if self.measure_stuck_v is None else self.measure_stuck_v
        volts = _clamp(measured, self._measure_msg.get_signal_by_name("CableVoltage"))
        amps = _clamp(self.plant.output_current_a, self._measure_msg.get_signal_by_name("CableCurrent"))
        data = self._measure_msg.encode({"CableVoltage": volts, "CableCurrent": amps}, strict=True)
        self.port.send(self._measure_msg.frame_id + self.connector_id, data)

    def _send_temperatures(self) -> None:
        self._last_temps_t = self.clock()
        if not self.powered:
            return
        names = ("TempDcPlus", "TempDcMinus", "TempCable")
        readings = self.temperatures_c() if self.temperature_stuck_c is None else (self.temperature_stuck_c,) * 3
        values = {name: _clamp(t, self._temps_msg.get_signal_by_name(name)) for name, t in zip(names, readings)}
        data = self._temps_msg.encode(values, strict=True)
        self.port.send(self._temps_msg.frame_id + self.connector_id, data)

    def _step_thermal(self, now: float) -> None:
        dt = 0.0 if self._last_thermal_t is None else max(0.0, now - self._last_thermal_t)
        self._last_thermal_t = now
        current = self.plant.output_current_a
        weight = 1.0 - math.exp(-dt / THERMAL_TAU_S)
        self._rise_pin_c += (PIN_RISE_K_PER_A2 * current ** 2 - self._rise_pin_c) * weight
        self._rise_cable_c += (CABLE_RISE_K_PER_A2 * current ** 2 - self._rise_cable_c) * weight


def _without_echo(values: dict) -> tuple:
    return tuple(value for name, value in values.items() if name != "HeartbeatEcho")


def _clamp(value: float, signal) -> float:
    """Keep a reading inside the DBC range, as a real board's ADC would saturate."""
    return min(max(value, signal.minimum), signal.maximum)
