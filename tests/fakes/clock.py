"""The one test clock: code under test reads it by calling it; the test moves it."""
from __future__ import annotations


class FakeClock:
    """Reads `now` when called. Move it with `advance(seconds)` or by setting `now`; it never moves by itself,
    so a test decides exactly how much time passes between two steps."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
