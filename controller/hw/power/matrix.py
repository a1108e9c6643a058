"""Driver for the power matrix board over `dbc/power_matrix.dbc` (our own protocol).

The board connects module groups to outputs through contactors. Each group's command is the output it is to be
connected to (0 = open), so the protocol itself cannot put one group on two outputs. This driver refuses what
the cabinet file does not permit and a move from one output straight to another (open first: the move
sequence, controller/power_sharing/group_move.py, makes sure the contact carries no current when it opens).

The command is resent every period with an alive counter and an end-to-end CRC, like the I/O board's. Faults:
MATRIX_BOARD_LOST when status frames stop, MATRIX_CONTACT_MISMATCH when a group's feedback does not follow its
command within contact_timeout_s (a contact that did not close, or one that stays closed: welded).

How new the feedback is comes from the status frame's CounterEcho, never from when the frame was handled
(matrix_echo.py): after a stall of this process, a queue of status frames sent before a bound, handled after it,
does not count as feedback received after the bound.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Sequence

import can

from controller.faults import FaultListener, report_fault
from controller.formats.can.codec import FrameRejected, decode_frame
from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import e2e_crc
from controller.hw.can_port import CanPort
from controller.hw.power.matrix_echo import CommandEchoes

log = logging.getLogger(__name__)

MAX_GROUPS = 12  # Group1..Group12 in the DBC
MAX_OUTPUT = 14
MORE_THAN_ONE = 15  # GroupNClosed: more than one contact of the group reports closed


class PowerMatrix:
    """The controller's side of the matrix board: commanded and reported output of every group."""

    def __init__(self, port: CanPort, groups: Sequence[str], permitted: dict[str, Sequence[int]], *,
                 on_fault: FaultListener, command_period_s: float = 0.05, lost_after_s: float = 0.3,
                 contact_timeout_s: float = 0.2, clock: Callable[[], float] = time.monotonic):
        if not 1 <= len(groups) <= MAX_GROUPS:
            raise ValueError(f"{len(groups)} groups: the matrix board drives 1..{MAX_GROUPS}")
        self.port = port
        self.groups = tuple(groups)
        self.permitted = {g: frozenset(permitted.get(g, ())) for g in self.groups}
        for g, outputs in self.permitted.items():
            if any(not 1 <= o <= MAX_OUTPUT for o in outputs):
                raise ValueError(f"group {g!r}: outputs must be 1..{MAX_OUTPUT}")
        self.command_period_s = command_period_s
        self.lost_after_s = lost_after_s
        self.contact_timeout_s = contact_timeout_s
        self.clock = clock
        self._on_fault = on_fault
        db = load_dbc("power_matrix")
        self._command_msg = db.get_message_by_name("MatrixCommand")
        self._status_msg = db.get_message_by_name("MatrixStatus")
        self._command: dict[str, int] = {g: 0 for g in self.groups}
        self._changed_t: dict[str, float] = {g: clock() for g in self.groups}  # when each command last changed
        self._feedback: dict[str, int] | None = None  # None until the first status frame
        self._status_t: float | None = None  # when the last status frame was handled (the board talks: online)
        self._echoes = CommandEchoes()
        self._feedback_as_of: float | None = None  # the feedback is at least as new as this (an echoed send time)
        # when the board first echoed a command that carried the group's present command (None: not yet)
        self._acked_t: dict[str, float | None] = {g: None for g in self.groups}
        self._started_t = clock()
        self._counter = 0
        self._sent_t: float | None = None  # the last command's send time
        self._active: set[str] = set()
        self.refused_by_board = False

    # ---- state -------------------------------------------------------------------------------------------
    def commanded(self, group: str) -> int | None:
        """The output the group is commanded to (None: open)."""
        return self._command[group] or None

    def closed_output(self, group: str) -> int | None:
        """The output whose contact reports closed for the group (None: open or no report yet; MORE_THAN_ONE)."""
        if self._feedback is None:
            return None
        return self._feedback[group] or None

    def settled(self, group: str) -> bool:
        """The group's feedback shows what it was commanded to."""
        return self._feedback is not None and self._feedback[group] == self._command[group]

    def reported_since(self, t: float) -> bool:
        """The feedback is at least as new as `t`: a status echoed a command sent at or after `t`."""
        return self._feedback_as_of is not None and self._feedback_as_of >= t

    def groups_on(self, output: int) -> list[str]:
        """Groups whose contact to `output` reports closed."""
        return [g for g in self.groups if self.closed_output(g) == output]

    @property
    def online(self) -> bool:
        return self._status_t is not None and self.clock() - self._status_t <= self.lost_after_s

    # ---- commands ----------------------------------------------------------------------------------------
    def connect(self, group: str, output: int) -> None:
        """Command the group's contact to `output` closed (the group must be open, the output permitted)."""
        if output not in self.permitted[group]:
            raise ValueError(f"group {group!r} may not reach output {output} "
                             f"(permitted: {sorted(self.permitted[group])})")
        current = self._command[group]
        if current == output:
            return
        if current or self.closed_output(group) is not None:
            raise ValueError(f"group {group!r} is on output {current or self.closed_output(group)}: open it first")
        self._set(group, output)

    def open(self, group: str) -> None:
        if self._command[group]:
            self._set(group, 0)

    def _set(self, group: str, output: int) -> None:
        self._command[group] = output
        self._changed_t[group] = self.clock()
        self._acked_t[group] = None
        self.send_command()

    def send_command(self) -> bool:
        self._counter = (self._counter + 1) % 256
        values = {"Crc": 0, "Counter": self._counter}
        for i in range(MAX_GROUPS):
            values[f"Group{i + 1}Output"] = self._command[self.groups[i]] if i < len(self.groups) else 0
        data = bytearray(self._command_msg.encode(values, strict=True))
        data[0] = e2e_crc(self._command_msg.frame_id, bytes(data[1:]))
        self._sent_t = self.clock()
        self._echoes.sent(self._counter, self._sent_t)
        sent = self.port.send(self._command_msg.frame_id, bytes(data))
        if not sent:
            self._echoes.not_sent(self._counter)
        return sent

    # ---- the loop and the receive path -------------------------------------------------------------------
    def attach(self) -> None:
        self.port.on(self._status_msg.frame_id, self._handle_status)

    async def run(self) -> None:
        while True:
            self.send_command()
            self.check()
            await asyncio.sleep(self.command_period_s)

    def tick(self) -> None:
        """One turn of `run()` for a caller that keeps its own time (a model, a test): a command once
        command_period_s has passed since the last one (the board echoes it: the feedback's age), then the checks."""
        if self._sent_t is None or self.clock() - self._sent_t >= self.command_period_s - 1e-9:
            self.send_command()
        self.check()

    def _handle_status(self, msg: can.Message) -> None:
        try:
            values = decode_frame(self._status_msg, msg)
        except FrameRejected as exc:
            log.warning("power matrix: %s", exc)
            return
        self._feedback = {g: int(values[f"Group{i + 1}Closed"]) for i, g in enumerate(self.groups)}
        self._status_t = self.clock()
        sent_t = self._echoes.sent_at(int(values["CounterEcho"]))
        if sent_t is not None:
            # frames arrive in the order the board sent them: each one's feedback is at least as new as the last's
            if self._feedback_as_of is None or sent_t > self._feedback_as_of:
                self._feedback_as_of = sent_t
            for g in self.groups:
                if self._acked_t[g] is None and sent_t >= self._changed_t[g]:
                    self._acked_t[g] = sent_t
        self.refused_by_board = bool(values["CommandRefused"])
        self.check()

    def check(self) -> None:
        """Raise or clear the board's faults (called every period and on every status frame)."""
        now = self.clock()
        since = self._status_t if self._status_t is not None else self._started_t
        silent = now - since
        self._set_fault("MATRIX_BOARD_LOST", silent > self.lost_after_s, f"no status for {silent:.3f} s")
        if self._feedback is None:
            return
        # judged by feedback as new as contact_timeout_s after the board had the command (its echo), not by the
        # clock nor by when a status was handled: after a stall of this process the statuses in the receive queue
        # show only what the board saw before it; and a board that was deaf gets the command when it hears again
        as_of = self._feedback_as_of
        late = [g for g in self.groups if not self.settled(g) and as_of is not None
                and self._acked_t[g] is not None and as_of - self._acked_t[g] > self.contact_timeout_s]
        detail = ", ".join(f"{g}: commanded {self._command[g] or 'open'}, reports "
                           f"{_feedback_text(self._feedback[g])}" for g in late)
        self._set_fault("MATRIX_CONTACT_MISMATCH", bool(late), detail or "every contact follows its command")

    def _set_fault(self, code: str, active: bool, detail: str) -> None:
        if active == (code in self._active):
            return
        if report_fault(self._on_fault, "power matrix", code, detail, active):
            (self._active.add if active else self._active.discard)(code)

    @property
    def active_faults(self) -> frozenset[str]:
        return frozenset(self._active)


def _feedback_text(value: int) -> str:
    return "open" if value == 0 else ("more than one closed" if value == MORE_THAN_ONE else f"output {value}")
