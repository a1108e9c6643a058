"""Moving one module group from one output to another without switching under load: a state machine.

    LOWER_DONOR  tell the donor's car the lower limit (what its remaining groups carry)
    WAIT_DONOR   until its measured current is within that limit; a car that has not followed within
                 car_follow_s gets an error shutdown (EV_LIMIT_NOT_FOLLOWED) and the move waits for the shutdown
                 to bring the current down (never an overload of the remaining groups)
    RAMP_DOWN    the group's current setpoint to zero, until its measured current is below open_below_a
    OPEN         matrix contact open, until the feedback says open
    MATCH        the group's voltage set to the receiving output's, until within close_within_v / 2 by fresh readings
                 (taken after the group's last command), the receiver's voltage steady for steady_s over at
                 least STEADY_SAMPLES samples without a gap (one sample before a stall and one after show nothing)
    CLOSE        matrix contact closed, until the feedback says closed; judged again at every step until then:
                 when fresh readings no longer show the group within close_within_v / 2 of the receiver, or the
                 receiver moved by more than close_within_v / 4, the close is abandoned
    ABANDON      matrix contact commanded open again, the group held at the matched voltage at no current for
                 contact_s (the contact may still be on its way), then MATCH again (at most MAX_ABANDONS times)
    BOARD_SILENT the matrix board fell silent during CLOSE: as ABANDON (see "A silent board" below)
    DONE         the group joins the receiver's control and the receiver's limit is raised

A donor of None takes an idle group (straight to MATCH); a receiver of None only frees the group. Every step
has a bound; a move that cannot go on ends FAILED with a reason and never opens a contact that carries current
or closes one across a voltage: the contact stays as it is and the allocation is redone without the group.
`step()` is called every control period; it reads and commands through a `MovePlant` and the matrix driver.

A silent board. The contact steps (OPEN, CLOSE, ABANDON) wait for feedback dated after the contact's bound (the
driver dates it by the echoed command). They no longer wait for ever when none comes:
- CLOSE, when the board is lost (MATRIX_BOARD_LOST: the coordinator calls `board_lost()`) or when no feedback
  dated after the contact's bound has come `silent_s` after it: BOARD_SILENT, which is ABANDON (the contact
  commanded open, the group held at the matched voltage at no current, the receiver's bus held and its limit not
  raised) counted as an abandoned close.
- ABANDON, BOARD_SILENT: a board that answers again with feedback dated after the contact's bound shows where the
  contact is: open, MATCH again (at most MAX_ABANDONS times). Still none `silent_s` after the bound: FAILED. The
  contact may or may not have landed; the group's current is zero either way (held at no current through the
  contact's travel, then switched off: an off group on a live bus carries nothing). The receiver's hold ends and
  its limit is not raised (the group counts for no port: the coordinator marks it failed). The donor keeps the
  limit of the groups still on it: this group left it (its contact was seen open before MATCH) and cannot go back
  without the board, and raising it back would overload the groups it has.
- OPEN: FAILED after the same bound; the group stays at no current, its contact commanded open.
Silence is counted in time the move was stepped (each gap at most AWAKE_GAP_S), so a stall of the controller,
after which the board's answer is still to be read, is no silence. A board that hears us opens the contact at no
current; a group left closed on an output is freed by an ordinary move once the board reports it, an open one is
offered again after return_hold_s (group_return.py). Not covered: a board whose firmware stalls and applies a
stale close command long after it was sent.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Callable, Protocol

log = logging.getLogger(__name__)

AWAKE_GAP_S = 0.1  # a step this long after the one before followed a stall: silence counts at most this much
STEADY_SAMPLES = 3  # receiver readings in the steady band before a close (not just one before and one after a stall)
MAX_ABANDONS = 3  # closes abandoned in a row before the move fails (its group then stays out for a while)


class MovePlant(Protocol):
    """What a move reads and commands outside the matrix (the connectors and the module groups)."""

    def port_current_a(self, output: int) -> float: ...  # measured at the output (I/O board shunt)

    def port_voltage_v(self, output: int) -> float: ...

    def set_port_limit_a(self, output: int, amps: float) -> None: ...  # EVSEMaximumCurrentLimit to the car

    def group_current_a(self, group: str) -> float: ...

    def group_voltage_v(self, group: str) -> float: ...

    def set_group(self, group: str, voltage_v: float, current_a: float) -> None: ...  # the move drives it

    def hand_over(self, group: str, output: int | None) -> None: ...  # to that port's control (None: off)

    def stop_port(self, output: int, code: str, detail: str) -> None: ...  # error shutdown of that port

    def closing_onto(self, group: str, output: int | None) -> None: ...  # its contact travels there (None: ended)

    def may_receive(self, output: int) -> bool: ...  # False while the output's voltage may move (a session ending)


class MatrixContacts(Protocol):
    def connect(self, group: str, output: int) -> None: ...

    def open(self, group: str) -> None: ...

    def closed_output(self, group: str) -> int | None: ...

    def reported_since(self, t: float) -> bool: ...  # its feedback is at least as new as `t` (the echoed command)


class Step(enum.Enum):
    LOWER_DONOR = "lower donor limit"
    WAIT_DONOR = "wait for the donor's car"
    RAMP_DOWN = "group current to zero"
    OPEN = "open the matrix contact"
    MATCH = "match the receiver's voltage"
    CLOSE = "close the matrix contact"
    ABANDON = "close abandoned: contact commanded open"
    BOARD_SILENT = "matrix board silent: contact commanded open, group held at no current"
    DONE = "done"
    FAILED = "failed"


TRAVELLING = frozenset({Step.CLOSE, Step.ABANDON, Step.BOARD_SILENT})  # the contact may be on its way to land


@dataclass(frozen=True)
class MoveTiming:
    car_follow_s: float = 1.5  # a car follows a lowered limit within this (configurable default)
    follow_margin_a: float = 5.0  # measured current this close above the lowered limit counts as followed
    shutdown_s: float = 2.0  # after an error shutdown, the donor's current must be down within this
    ramp_down_s: float = 1.0  # the group's current reaches open_below_a within this
    open_below_a: float = 1.0  # a contact opens only below this current
    close_within_v: float = 20.0  # a contact closes only within this voltage (the move aims at half)
    match_s: float = 1.0  # the group's voltage reaches the receiver's within this
    steady_s: float = 0.1  # the receiver's voltage stayed within close_within_v / 4 this long before a close
    contact_s: float = 0.2  # contact feedback follows the command within this
    silent_s: float = 0.3  # no feedback dated after a contact's bound this long after it: the board is silent


class GroupMove:
    """One group from `donor` to `receiver`; `donor_limit_a` is what the donor keeps, `receiver_limit_a` what
    the receiver gets once the group is on."""

    def __init__(self, group: str, donor: int | None, receiver: int | None, plant: MovePlant,
                 matrix: MatrixContacts, *, donor_limit_a: float = 0.0, receiver_limit_a: float = 0.0,
                 timing: MoveTiming = MoveTiming(), clock: Callable[[], float]):
        self.group, self.donor, self.receiver = group, donor, receiver
        self.plant, self.matrix, self.timing, self.clock = plant, matrix, timing, clock
        self.donor_limit_a, self.receiver_limit_a = donor_limit_a, receiver_limit_a
        self.step_now = Step.LOWER_DONOR if donor is not None else Step.MATCH
        self.reason = ""
        self.donor_stopped = False
        self._matched_v = 0.0  # the receiver's voltage the group matched before its contact closed
        self._receiver_band: tuple[float, float] | None = None  # lowest, highest receiver voltage since ...
        self._steady_since = 0.0  # ... this time, while matching
        self._steady_samples = 0  # readings inside that band
        self._sampled_t = -float("inf")  # the last reading's time
        self._close_from_v = 0.0  # the receiver's voltage when the close was decided
        self.abandons = 0
        self._abandoned_why = ""
        self.history: list[tuple[float, Step]] = []
        self._since = clock()
        self._entered = False
        self._stepped_t: float | None = None  # the last step's time
        self._awake_s = 0.0  # time stepped in the present step, each gap counted at most AWAKE_GAP_S

    @property
    def finished(self) -> bool:
        return self.step_now in (Step.DONE, Step.FAILED)

    def step(self) -> Step:
        """Advance as far as the plant allows now; returns the step the move is in."""
        now = self.clock()
        if self._stepped_t is not None:
            self._awake_s += min(now - self._stepped_t, AWAKE_GAP_S)
        self._stepped_t = now
        for _ in range(len(Step)):  # several steps may complete in one call
            before = self.step_now
            if not self._entered:
                self._enter()
            getattr(self, "_" + self.step_now.name.lower())()
            if self.step_now is before:
                break
        return self.step_now

    # ---- each step: `_enter` commands once, the method below judges -------------------------------------------
    def board_lost(self) -> None:
        """The matrix board is lost (MATRIX_BOARD_LOST): a close on its way is abandoned now (no contact lands
        unseen); a move waiting for its contact to open waits within its bound on silence."""
        if self.step_now is Step.CLOSE:
            self._silent("the matrix board was lost")

    def _go(self, step: Step) -> None:
        if self.step_now in TRAVELLING and step not in TRAVELLING:
            self.plant.closing_onto(self.group, None)  # landed, or open (or commanded open) again
        self.step_now, self._since, self._entered = step, self.clock(), False
        self._awake_s = 0.0

    def _fail(self, reason: str) -> None:
        self.reason = reason
        failed_at = self.step_now
        self._go(Step.FAILED)
        if failed_at in (Step.MATCH, *TRAVELLING):  # contact open (or commanded open): nothing to hold
            self.plant.hand_over(self.group, None)

    def _elapsed(self) -> float:
        return self.clock() - self._since

    def _contact_overdue(self, bound_s: float) -> bool:
        """The contact's feedback still disagrees in a status received more than `bound_s` after this step began:
        after a stall of the control loop the status that shows the contact moved may not have been read yet."""
        return self._elapsed() > bound_s and self.matrix.reported_since(self._since + bound_s)

    def _unheard(self, bound_s: float) -> bool:
        """No feedback dated after this step's bound `bound_s`, silent_s after it in time the move was stepped."""
        return self._awake_s > bound_s + self.timing.silent_s and not self.matrix.reported_since(self._since + bound_s)

    def _silent(self, why: str) -> None:
        self.abandons += 1
        self._abandoned_why = why
        log.warning("group %s: %s while its contact to output %s travelled: commanded open, held at no current",
                    self.group, why, self.receiver)
        self._go(Step.BOARD_SILENT)

    def _enter(self) -> None:
        self._entered = True
        self.history.append((self.clock(), self.step_now))
        step = self.step_now
        if step is Step.LOWER_DONOR:
            self.plant.set_port_limit_a(self.donor, self.donor_limit_a)
        elif step is Step.RAMP_DOWN:
            self.plant.set_group(self.group, self.plant.port_voltage_v(self.donor), 0.0)
        elif step is Step.OPEN:
            self.matrix.open(self.group)
        elif step is Step.CLOSE:
            self.plant.closing_onto(self.group, self.receiver)  # the receiver's stop waits for the landing
            try:
                self.matrix.connect(self.group, self.receiver)
            except ValueError as exc:  # not permitted, or the contact still reports another output
                self._fail(str(exc))
        elif step in (Step.ABANDON, Step.BOARD_SILENT):
            self.matrix.open(self.group)
        elif step is Step.DONE:
            self.plant.hand_over(self.group, self.receiver)
            if self.receiver is not None:
                self.plant.set_port_limit_a(self.receiver, self.receiver_limit_a)

    def _lower_donor(self) -> None:
        self._go(Step.WAIT_DONOR)

    def _wait_donor(self) -> None:
        t = self.timing
        if self.plant.port_current_a(self.donor) <= self.donor_limit_a + t.follow_margin_a:
            self._go(Step.RAMP_DOWN)
        elif not self.donor_stopped and self._elapsed() > t.car_follow_s:
            self.donor_stopped = True
            self.plant.stop_port(self.donor, "EV_LIMIT_NOT_FOLLOWED",
                                 f"{self.plant.port_current_a(self.donor):.0f} A {t.car_follow_s:g} s after the "
                                 f"limit was lowered to {self.donor_limit_a:.0f} A")
        elif self._elapsed() > t.car_follow_s + t.shutdown_s:
            self._fail(f"output {self.donor} still carries {self.plant.port_current_a(self.donor):.0f} A")

    def _ramp_down(self) -> None:
        self.plant.set_group(self.group, self.plant.port_voltage_v(self.donor), 0.0)  # follow the output
        if abs(self.plant.group_current_a(self.group)) < self.timing.open_below_a:
            self._go(Step.OPEN)
        elif self._elapsed() > self.timing.ramp_down_s:
            self._fail(f"group {self.group} still carries {self.plant.group_current_a(self.group):.1f} A: "
                       "its contact stays closed")

    def _open(self) -> None:
        if self.matrix.closed_output(self.group) is None:
            self.plant.set_group(self.group, 0.0, 0.0)
            self._go(Step.MATCH if self.receiver is not None else Step.DONE)
        elif self._contact_overdue(self.timing.contact_s):
            self._fail(f"group {self.group}: the matrix contact did not open (welded?)")
        elif self._unheard(self.timing.contact_s):
            self._fail(f"group {self.group}: no matrix status after its contact's bound (board silent)")

    def _match(self) -> None:
        if self.receiver is None:
            self._go(Step.DONE)
            return
        target = self.plant.port_voltage_v(self.receiver)  # followed while the receiver's battery charges
        self.plant.set_group(self.group, target, 0.0)
        # not onto an output whose voltage may move while the contact closes (a session ramping or ending)
        receiving = self._may_receive()
        steady = self._receiver_steady(target)
        if not receiving:
            self._since = self.clock()  # waiting for the receiver is no failure: the contact is open, no current
        elif not steady:
            pass  # e.g. its current ramping (I x R) or its car's contactor opening: a close now would see it move
        elif abs(self.plant.group_voltage_v(self.group) - target) < self.timing.close_within_v / 2:
            log.info("group %s closing onto output %s: group %.1f V, output %.1f V", self.group, self.receiver,
                     self.plant.group_voltage_v(self.group), target)
            self._matched_v = self._close_from_v = target
            self._go(Step.CLOSE)
        elif self._elapsed() > self.timing.match_s:
            self._fail(f"group {self.group} at {self.plant.group_voltage_v(self.group):.0f} V did not reach "
                       f"output {self.receiver}'s {target:.0f} V")

    def _receiver_steady(self, volts: float) -> bool:
        """The receiver's voltage has held within close_within_v / 4 for steady_s (sampled at every step): a bus
        that is moving now will likely still move during the contact's travel. Shown by STEADY_SAMPLES samples at
        least, none more than steady_s after the one before (a stall of the control loop restarts the count)."""
        now, band = self.clock(), self._receiver_band
        stalled = now - self._sampled_t > self.timing.steady_s  # no sample in between: nothing seen of the bus
        self._sampled_t = now
        if band is None or stalled or max(band[1], volts) - min(band[0], volts) > self.timing.close_within_v / 4:
            self._receiver_band, self._steady_since = (volts, volts), now  # moving: held from here on, maybe
            self._steady_samples = 1
        else:
            self._receiver_band = (min(band[0], volts), max(band[1], volts))
            self._steady_samples += 1
        return now - self._steady_since >= self.timing.steady_s and self._steady_samples >= STEADY_SAMPLES

    def _may_receive(self) -> bool:
        return self.plant.may_receive(self.receiver)

    def _close(self) -> None:
        # follow the receiver while it holds its voltage; if its session ends meanwhile (its voltage may read 0
        # as its contactors open), hold the matched voltage: the contact is already on its way
        receiving = self._may_receive()
        if receiving:
            self._matched_v = self.plant.port_voltage_v(self.receiver)
        self.plant.set_group(self.group, self._matched_v, 0.0)
        if self.matrix.closed_output(self.group) == self.receiver:
            self._go(Step.DONE)
            return
        unsafe = self._unsafe_to_land(receiving)
        if unsafe:
            self.abandons += 1
            log.warning("group %s: close onto output %s abandoned (%s)", self.group, self.receiver, unsafe)
            self._abandoned_why = unsafe
            self._go(Step.ABANDON)
        elif self._contact_overdue(self.timing.contact_s):
            self.matrix.open(self.group)
            self._fail(f"group {self.group}: the matrix contact to output {self.receiver} did not close")
        elif self._unheard(self.timing.contact_s):
            self._silent("no matrix status after the contact's bound")

    def _unsafe_to_land(self, receiving: bool) -> str:
        """Why the travelling contact must not land (empty: it may): the fresh readings no longer show the group
        within the window of the receiver, or the receiver moved since the close was decided."""
        window = self.timing.close_within_v
        group_v = self.plant.group_voltage_v(self.group)  # NaN: no reading since the group's last real command
        if receiving and abs(self._matched_v - self._close_from_v) > window / 4:
            return f"output {self.receiver} moved from {self._close_from_v:.1f} V to {self._matched_v:.1f} V"
        if not abs(group_v - self._matched_v) < window / 2:
            return f"group {self.group} at {group_v:.1f} V, output {self.receiver} at {self._matched_v:.1f} V"
        return ""

    def _abandon(self) -> None:
        # the contact is commanded open but may still land: the group holds the matched voltage at no current
        self.plant.set_group(self.group, self._matched_v, 0.0)
        bound_t = self._since + self.timing.contact_s
        if self.clock() < bound_t or not self.matrix.reported_since(bound_t):
            if self._unheard(self.timing.contact_s):  # its travel is long over: off, whatever it did
                self._fail(f"group {self.group}: no matrix status after its contact's bound (board silent); its "
                           f"close onto output {self.receiver} abandoned ({self._abandoned_why}), the contact "
                           "commanded open and the group switched off")
            return  # its feedback is not yet as new as the contact's bound
        where = self.matrix.closed_output(self.group)
        if where is None and self.abandons >= MAX_ABANDONS:
            self._fail(f"group {self.group}: {self.abandons} closes onto output {self.receiver} abandoned, the "
                       f"last because {self._abandoned_why}")
        elif where is None:
            self._receiver_band = None  # steady again from fresh samples before the next close
            self._go(Step.MATCH)
        elif self._contact_overdue(2 * self.timing.contact_s):
            self._fail(f"group {self.group}: the matrix contact to output {where} did not open after an abandoned "
                       "close (welded?)")

    _board_silent = _abandon  # the same wait: the contact commanded open on entry, the group held

    def _done(self) -> None:
        pass

    def _failed(self) -> None:
        pass
