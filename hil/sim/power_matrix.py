"""The rig's power matrix board: speaks `dbc/power_matrix.dbc` as the board side.

A commanded contact moves after the contactor's delay (opening and closing alike) and its feedback follows. At
the moment a contact opens or closes, the simulator reads the current through it and the voltage across it
from the plant and counts the switching as **under load** when more than 1 A flows (an arc on opening) or more
than 20 V lie across it (inrush on closing): that count must stay 0 in every test and is in the rig report.

As the protocol says, a group is never on two outputs: a command that moves a group from one output straight
to another is refused (CommandRefused). Without an accepted command for watchdog_s the board sets
HeartbeatLost and holds its contacts (opening them under load would arc).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import can

from controller.formats.can.codec import decode_frame
from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import counter_ok, e2e_crc

log = logging.getLogger(__name__)

MAX_GROUPS = 12
STATUS_PERIOD_S = 0.02
CONTACT_DELAY_S = 0.03  # a matrix contactor's operating time
ARC_CURRENT_A = 1.0  # more than this through a contact that opens or closes: switching under load
INRUSH_VOLTAGE_V = 20.0  # more than this across a contact that closes or opens: switching under load


class MatrixPlant(Protocol):
    """What the board's contacts see of the power circuit (group index from 0)."""

    def group_current_a(self, group: int) -> float: ...

    def group_voltage_v(self, group: int) -> float: ...

    def output_voltage_v(self, output: int) -> float: ...


class SendPort(Protocol):
    def on(self, arbitration_id: int, handler: Callable[[can.Message], None]) -> None: ...

    def send(self, arbitration_id: int, data: bytes) -> bool: ...


@dataclass(frozen=True)
class Switching:
    """One contact that moved: when, which, and what it carried."""
    t: float
    group: int  # from 0
    output: int
    closed: bool  # True: it closed; False: it opened
    current_a: float
    voltage_v: float  # across the contact just before it moved

    @property
    def under_load(self) -> bool:
        return abs(self.current_a) > ARC_CURRENT_A or abs(self.voltage_v) > INRUSH_VOLTAGE_V


class PowerMatrixSim:
    """Board side of the matrix protocol over a `MatrixPlant`."""

    def __init__(self, port: SendPort, plant: MatrixPlant, groups: int, *, contact_delay_s: float = CONTACT_DELAY_S,
                 watchdog_s: float = 0.3, clock: Callable[[], float] = time.monotonic,
                 on_contact: Callable[[int, int, int], None] | None = None):
        if not 1 <= groups <= MAX_GROUPS:
            raise ValueError(f"{groups} groups: the matrix board drives 1..{MAX_GROUPS}")
        self.port = port
        self.plant = plant
        self.groups = groups
        self.contact_delay_s = contact_delay_s
        self.watchdog_s = watchdog_s
        self.clock = clock
        self.on_contact = on_contact  # (group, output before, output after) once a contact moved
        db = load_dbc("power_matrix")
        self._command_msg = db.get_message_by_name("MatrixCommand")
        self._status_msg = db.get_message_by_name("MatrixStatus")
        self.contacts: list[int] = [0] * groups  # output each group's closed contact connects it to (0: open)
        self._wanted: list[int] = [0] * groups
        self._due: list[float | None] = [None] * groups  # when the contact reaches _wanted
        self._last_counter: int | None = None
        self._echo = 0
        self._fresh_t: float | None = None
        self._refused = False
        self.welded: set[int] = set()  # groups whose contact stays closed when released (fault injection)
        self.switchings: list[Switching] = []
        self.commands_received = 0
        self.rejected_commands = 0

    # ---- observed ----------------------------------------------------------------------------------------
    @property
    def under_load_count(self) -> int:
        """Contacts opened or closed with more than 1 A through or 20 V across (the rig report's figure)."""
        return sum(1 for s in self.switchings if s.under_load)

    @property
    def heartbeat_lost(self) -> bool:
        return self._fresh_t is not None and self.clock() - self._fresh_t > self.watchdog_s

    def connected_output(self, group: int) -> int:
        return self.contacts[group]

    @property
    def worst_close_v(self) -> float:
        """The most voltage any contact closed across (how close the run came to the 20 V bound)."""
        return max((abs(s.voltage_v) for s in self.switchings if s.closed), default=0.0)

    def report(self) -> dict:
        return {"matrix_switchings": len(self.switchings), "matrix_switched_under_load": self.under_load_count,
                "matrix_worst_close_v": round(self.worst_close_v, 1),
                "matrix_under_load": [vars(s) for s in self.switchings if s.under_load][:20]}

    # ---- the loop ----------------------------------------------------------------------------------------
    def attach(self) -> None:
        self.port.on(self._command_msg.frame_id, self._handle_command)

    async def run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(STATUS_PERIOD_S)

    def tick(self) -> None:
        """Move the contacts whose time has come, then report."""
        self.settle()
        self.send_status()

    def settle(self) -> None:
        now = self.clock()
        for g in range(self.groups):
            due = self._due[g]
            if due is not None and now >= due:
                self._due[g] = None
                self._move(g, self._wanted[g], now)

    def _move(self, g: int, output: int, now: float) -> None:
        before = self.contacts[g]
        if output == before or (output == 0 and g in self.welded):
            return
        touched = output or before
        current = self.plant.group_current_a(g)
        across = self.plant.group_voltage_v(g) - self.plant.output_voltage_v(touched)
        record = Switching(now, g, touched, bool(output), current, across)
        self.switchings.append(record)
        if record.under_load:
            log.warning("matrix sim: group %d %s output %d under load (%.1f A, %.1f V across)",
                        g + 1, "closed onto" if output else "opened from", touched, current, across)
        self.contacts[g] = output
        if self.on_contact is not None:
            self.on_contact(g, before, output)

    def _handle_command(self, msg: can.Message) -> None:
        values = decode_frame(self._command_msg, msg)
        self.commands_received += 1
        counter = int(values["Counter"])
        if e2e_crc(self._command_msg.frame_id, bytes(msg.data[1:])) != int(values["Crc"]):
            self.rejected_commands += 1
            return
        fresh = counter_ok(self._last_counter, counter)
        self._last_counter = counter
        if not fresh:
            self.rejected_commands += 1
            return
        self._echo, self._fresh_t = counter, self.clock()
        refused = False
        for g in range(self.groups):
            output = int(values[f"Group{g + 1}Output"])
            if output == self._wanted[g]:
                continue
            if output and self._wanted[g]:  # straight from one output to another: refused, the group stays
                refused = True
                continue
            self._wanted[g] = output
            self._due[g] = self.clock() + self.contact_delay_s
        self._refused = refused
        if self.contact_delay_s <= 0:
            self.settle()

    def send_status(self) -> None:
        values = {f"Group{g + 1}Closed": 0 for g in range(MAX_GROUPS)}
        for g in range(self.groups):
            values[f"Group{g + 1}Closed"] = self.contacts[g]
        values.update(CounterEcho=self._echo, HeartbeatLost=int(self.heartbeat_lost), CommandRefused=int(self._refused))
        self.port.send(self._status_msg.frame_id, self._status_msg.encode(values, strict=True))
