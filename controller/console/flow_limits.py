"""Bounds on what the console takes in and holds back, so no terminal can load the controller.

InputBudget: a token bucket; bytes above it are dropped (115200 baud is about 11.5 kB/s; a person types
far less, a pasted line fits the burst). OutputBuffer: output waiting for a slow or stuck terminal, capped;
an answer that does not fit is dropped whole, and a note says so once there is room again.
"""
from __future__ import annotations

import time
from typing import Callable


class InputBudget:
    def __init__(self, bytes_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if bytes_per_s <= 0 or burst < 1:
            raise ValueError("the input budget needs a positive rate and burst")
        self.rate = bytes_per_s
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._t = clock()

    def take(self, n: int) -> int:
        """How many of `n` bytes fit the budget now (they are spent)."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
        self._t = now
        allowed = min(n, int(self._tokens))
        self._tokens -= allowed
        return allowed


class OutputBuffer:
    def __init__(self, limit: int):
        self.limit = limit
        self.dropped = 0  # bytes, over the buffer's life
        self._data = bytearray()
        self._unreported = 0

    def __len__(self) -> int:
        return len(self._data)

    def add(self, data: bytes) -> bool:
        """Queue `data` whole, or drop it whole if it does not fit; False when dropped."""
        self._note_if_room()
        if len(self._data) + len(data) > self.limit:
            self.dropped += len(data)
            self._unreported += len(data)
            return False
        self._data += data
        return True

    def peek(self, n: int) -> bytes:
        return bytes(self._data[:n])

    def consume(self, n: int) -> None:
        del self._data[:n]
        self._note_if_room()

    def _note_if_room(self) -> None:
        if self._unreported and len(self._data) <= self.limit // 2:
            self._data += (f"\r\n[console: {self._unreported} bytes of output dropped: "
                           "the terminal did not keep up]\r\n").encode()
            self._unreported = 0
