"""What the matrix board's `CounterEcho` proves: how new the contact feedback in a status frame is.

The board reads its contact feedback for a status frame after it accepted the command whose counter the frame
echoes (dbc/power_matrix.dbc). So that feedback is at least as new as the moment that command was *sent*, however
late the frame is handled: a controller that stalled and finds a queue of status frames in its socket learns from
them only what the board saw before the stall, not what it sees now. The time a frame is handled says nothing.

The counter has 8 bits and wraps: only counters among our last `window` commands count (half the counter's range,
so a frame would have to sit in a queue for more than that many of our commands to be mistaken for a new one). An
echo of a counter we did not send, or sent longer ago, proves nothing.
"""
from __future__ import annotations

COUNTER_MODULO = 256
ECHO_WINDOW = 128  # commands: an echoed counter counts only among our last this many


class CommandEchoes:
    """When each command counter was sent, and what an echo of it proves."""

    def __init__(self, window: int = ECHO_WINDOW) -> None:
        if not 1 <= window < COUNTER_MODULO:
            raise ValueError(f"echo window {window}: 1..{COUNTER_MODULO - 1} commands")
        self.window = window
        self._sent: dict[int, tuple[int, float]] = {}  # counter -> (our sequence number of that send, its time)
        self._sequence = 0

    def sent(self, counter: int, t: float) -> None:
        """A command with `counter` goes out at `t` (noted before it is sent: a board may answer at once)."""
        self._sequence += 1
        self._sent[counter % COUNTER_MODULO] = (self._sequence, t)

    def not_sent(self, counter: int) -> None:
        """The send failed: the board cannot echo this one (an echo of it would be an old one's)."""
        self._sent.pop(counter % COUNTER_MODULO, None)

    def sent_at(self, counter: int) -> float | None:
        """When the echoed command was sent; None when the echo proves nothing (unknown, or too old)."""
        entry = self._sent.get(counter)
        if entry is None or self._sequence - entry[0] >= self.window:
            return None
        return entry[1]
