"""The control pilot as the I/O board reports it, and what each change means for the connector (IEC 61851-1):
a car plugged in or gone, C->B during a session (the car stops), D/E/F and invalid levels as faults. Also the
contactors' feedback against the command. Runs inside the CAN receive path, synchronously.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.ports import ModuleGroupPort
from controller.connector.power_down import PowerDown
from controller.connector.table import POWERED_STATES
from controller.hw.io_board import IoStatus


class PilotedConnector(Protocol):
    """What a CP change acts on."""
    charging: ChargingConfig
    group: ModuleGroupPort
    power_down: PowerDown
    state: str
    _contactors_commanded: bool
    def state_f_requested(self) -> bool: ...
    def power_path(self, what: str) -> AbstractContextManager[None]: ...
    def fire(self, trigger: str) -> bool: ...
    def can_offer_service(self) -> bool: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...
    def clear_fault(self, code: str) -> None: ...
    def clear_faults(self, kind: str) -> list[str]: ...
    def note_stop_reason(self, reason: str) -> None: ...
    def try_recover(self) -> None: ...
    def power_off_now(self) -> None: ...
    def check_weld(self) -> None: ...
    def unlock_when_safe(self) -> None: ...


class ControlPilot:
    def __init__(self, host: PilotedConnector) -> None:
        self.host = host
        self.reported = "INVALID"  # the latest CP state reported (what the table's conditions read)
        # the CP state last acted on, stored only once its actions are done; None before the board's first status,
        # so that one is always acted on (an invalid level from power-up is a fault too)
        self.acted: str | None = None
        self._contactors_were_closed = False

    def on_status(self, status: IoStatus) -> None:
        """I/O board callback; runs inside the CAN receive path. The CP state counts as acted on only after
        its actions are done: if one raises (power cut by the wrapper), the board's next delivery acts again."""
        with self.host.power_path("status"):
            self._check_contactor_feedback(status)
            cp = status.cp_state
            previous = self.acted
            self.reported = cp  # the table's conditions read the new state
            # a tripped board shows F as its own safe state (the trip has its own code): not a CP fault. Not
            # acted on either, so an F that outlasts the trip is judged once the board is reset
            board_f = cp == "F" and bool(getattr(status, "watchdog_tripped", False))
            if cp != previous and not board_f:
                self._on_change(cp, previous, status)
            if not board_f:
                self.acted = cp
            self.host.unlock_when_safe()

    def _on_change(self, cp: str, previous: str | None, status: IoStatus) -> None:
        host = self.host
        if cp == "F" and host.state_f_requested():
            return
        if cp == "A":
            self._on_unplug()
        elif cp in ("B", "C"):
            host.clear_fault("CP_STATE_F")
            if host.state == "available":
                host.fire("cp_plugged")
            elif host.state == "unavailable" and host.can_offer_service():
                host.fire("board_ready")
            elif cp == "B" and previous in ("C", "D") and host.state in ("charging", "precharge", "cable_check"):
                host.note_stop_reason("ev_left_state_c")
                host.fire("cp_left_c")
            elif cp == "B" and previous in ("C", "D") and host.state in ("stopping", "error_shutdown"):
                host.power_down.cp_left_c()
        elif cp == "D":
            host.raise_fault("CP_STATE_D", "car asked for ventilation")
        elif cp == "E":
            host.raise_fault("CP_STATE_E", "CP at 0 V")
        elif cp == "F":
            host.raise_fault("CP_STATE_F", "CP at -12 V without request")
        else:
            host.raise_fault("CP_INVALID", f"CP high {status.cp_high_v} V")

    def _on_unplug(self) -> None:
        host = self.host
        if host.state in POWERED_STATES and abs(host.group.output_current_a) > host.charging.stop_current_threshold_a:
            host.raise_fault("UNPLUGGED_UNDER_LOAD", f"{host.group.output_current_a:.1f} A flowing")
        host.clear_faults("unplug")
        host.note_stop_reason("unplugged")
        if host.state == "emergency":
            host.try_recover()
        else:
            host.power_off_now()
            host.fire("cp_unplugged")

    def _check_contactor_feedback(self, status: IoStatus) -> None:
        closed = status.dc_plus_closed and status.dc_minus_closed
        # CP out of C/D: the board opened by itself as IEC 61851-1 asks (the CP change is handled on its own)
        if self.host._contactors_commanded and self._contactors_were_closed and not closed \
                and self.host.state in POWERED_STATES and status.cp_state in ("C", "D"):
            self.host.raise_fault("CONTACTOR_OPENED", "feedback open while commanded closed")
        self._contactors_were_closed = closed
        self.host.check_weld()
