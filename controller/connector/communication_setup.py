"""CommunicationSetup while a car is plugged: the car has 20 s from plug-in (DIN 70121 / ISO 15118-2), not from
TCP connect, to send its SessionSetupReq; a link layer (SLAC) that failed shows CP F for a while, then 5 % again.
After the configured number of attempts: COMMUNICATION_FAILED, and no digital communication offered any more."""
from __future__ import annotations

from typing import Callable

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.ports import IoBoardPort
from controller.formats.events import CommunicationRestart, EventSink

COMMUNICATION_SETUP_S = 20.0


class CommunicationSetup:
    def __init__(self, cfg: ConnectorConfig, charging: ChargingConfig, io: IoBoardPort, *,
                 clock: Callable[[], float], wall_clock: Callable[[], float], state: Callable[[], str],
                 set_state_f: Callable[[bool], None], raise_fault: Callable[[str, str], None],
                 relink: Callable[[], None], emit: EventSink) -> None:
        self.cfg = cfg
        self.charging = charging
        self.io = io
        self.clock = clock
        self.wall_clock = wall_clock
        self._state = state
        self.set_state_f = set_state_f
        self._raise_fault = raise_fault
        self._relink = relink  # the phase told again: the link layer starts a new SLAC
        self._emit = emit
        self.attempts = 1
        self.setup_s = COMMUNICATION_SETUP_S
        self.deadline_t: float | None = None
        self.restart_until_t: float | None = None

    def plugged(self) -> None:
        """A car plugged in (CP B): the first attempt, with the full setup time from now."""
        self.attempts = 1
        # CommunicationSetup runs from plug-in, not from TCP connect: a car whose SLAC, SDP or handshake went
        # wrong must not leave the port at 5 % for ever
        self.setup_s = COMMUNICATION_SETUP_S
        self.deadline_t = self.clock() + self.setup_s

    def unplugged(self) -> None:
        self.restart_until_t = None

    def restart(self, reason: str) -> bool:
        """The link layer (SLAC) failed while plugged: show CP F for a while, then offer 5 % again;
        give up with COMMUNICATION_FAILED after the configured number of attempts."""
        if self._state() != "plugged" or self.restart_until_t is not None:
            return False
        if self.attempts >= self.charging.communication_attempts:
            self.io.set_pwm(100.0)  # no digital communication offered any more
            self._raise_fault("COMMUNICATION_FAILED", f"{reason} ({self.attempts} attempts)")
            return False
        self.attempts += 1
        self.restart_until_t = self.clock() + self.charging.communication_restart_f_s
        self.set_state_f(True)
        self._emit(CommunicationRestart(self.cfg.id, reason, self.attempts, self.wall_clock()))
        return True

    def tick(self, now: float) -> None:
        if self.restart_until_t is not None and now >= self.restart_until_t:
            self.restart_until_t = None
            if self._state() == "plugged":
                self.set_state_f(False)
                self.io.set_pwm(5.0)
                self.deadline_t = now + self.setup_s  # each try gets the full time
                self._relink()  # the link layer follows the phase: a new SLAC
        deadline = self.deadline_t
        if self._state() == "plugged" and self.restart_until_t is None and deadline is not None and now >= deadline:
            self.deadline_t = None  # until the restart ends; none at all after giving up
            self.restart(f"no SessionSetupReq within {self.setup_s:g} s of plug-in")
