"""Fixtures for the store tests: the shared fake clock at T0 and a store opened on a temporary file."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.store import Store
from tests.fakes.clock import FakeClock

T0 = 1_700_000_000.0  # 2023-11-14, any fixed time works


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "charger.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[Store]:
    opened = Store(db_path, clock=clock)
    opened.open()
    yield opened
    opened.close()
