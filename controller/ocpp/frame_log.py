"""The last OCPP-J frames on the link, named by action, for the console's `ocpp` command.

An answer (CALLRESULT, CALLERROR) carries only the message id, so the action is looked up from the CALL
it answers; the ids of CALLs not yet answered are remembered, at most a bounded number of them.
"""
from __future__ import annotations

import json
from collections import OrderedDict, deque
from dataclasses import dataclass

CALL, CALLRESULT, CALLERROR = 2, 3, 4
KEPT = 50
OPEN_CALLS_KEPT = 200  # a CSMS that never answers must not grow this without bound


@dataclass(frozen=True)
class FrameEntry:
    direction: str  # "out": station to CSMS; "in": CSMS to station
    action: str  # e.g. "BootNotification", "BootNotification result", "Heartbeat error", "unreadable"
    t: float


class FrameLog:
    def __init__(self, kept: int = KEPT):
        self.entries: deque[FrameEntry] = deque(maxlen=kept)
        self._open: OrderedDict[str, str] = OrderedDict()  # message id -> the CALL's action

    def note(self, direction: str, text: str, t: float) -> None:
        self.entries.append(FrameEntry(direction, self._action_of(text), t))

    def _action_of(self, text: str) -> str:
        try:
            frame = json.loads(text)
            kind, message_id = frame[0], str(frame[1])
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):  # RecursionError: nested deep
            return "unreadable"
        if kind == CALL and len(frame) > 2 and isinstance(frame[2], str):
            self._open[message_id] = frame[2]
            while len(self._open) > OPEN_CALLS_KEPT:
                self._open.popitem(last=False)
            return frame[2]
        if kind in (CALLRESULT, CALLERROR):
            action = self._open.pop(message_id, "?")
            return f"{action} {'result' if kind == CALLRESULT else 'error'}"
        return "unreadable"
