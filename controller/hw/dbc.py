"""Locate and load the project's DBC files (the single source of truth for CAN payloads)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cantools

DBC_DIR = Path(__file__).resolve().parents[2] / "dbc"


@lru_cache(maxsize=None)
def load_dbc(name: str) -> cantools.database.can.Database:
    """Load `dbc/<name>.dbc` once per process; both controller and rig share these files."""
    path = DBC_DIR / f"{name}.dbc"
    if not path.is_file():
        raise FileNotFoundError(f"DBC file not found: {path}")
    return cantools.database.load_file(str(path), strict=True)
