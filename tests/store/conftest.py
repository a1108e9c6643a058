"""Fixtures for the store tests: a settable clock and a store opened on a temporary file."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.store import Store

T0 = 1_700_000_000.0  # 2023-11-14, any fixed time works


class SettableClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "charger.db"


@pytest.fixture
def store(db_path: Path, clock: SettableClock) -> Iterator[Store]:
    opened = Store(db_path, clock=clock)
    opened.open()
    yield opened
    opened.close()
