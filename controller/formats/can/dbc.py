"""Locate and load the project's DBC files (the single source of truth for CAN payloads).

The files live in the `dbc` package (top-level `dbc/` in a checkout, `site-packages/dbc/` in an install) and
are read through importlib.resources, so the same code works from a checkout, a wheel or a zipped install.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import cantools

DBC_PACKAGE = "dbc"


def _dbc_dir() -> Path | None:
    try:
        return Path(str(resources.files(DBC_PACKAGE)))
    except ModuleNotFoundError:
        return None


DBC_DIR = _dbc_dir()  # the folder on disk, for tests and tools that list the files


class DbcNotFound(FileNotFoundError):
    """A DBC the code needs is not installed: the message names the file and where it was looked for."""


# every DBC the controller and the rig load (tests/packaging checks this list against the code)
REQUIRED = ("io_board", "infypower_reg", "uugreen_ur1000x0", "power_matrix")


def check_installed() -> None:
    """Raise DbcNotFound naming the first required DBC that is missing (before any bus is opened)."""
    for name in REQUIRED:
        load_dbc(name)


def dbc_names() -> list[str]:
    """The names of every shipped DBC (without `.dbc`)."""
    return sorted(entry.name[:-4] for entry in resources.files(DBC_PACKAGE).iterdir() if entry.name.endswith(".dbc"))


@lru_cache(maxsize=None)
def load_dbc(name: str) -> cantools.database.can.Database:
    """Load `dbc/<name>.dbc` once per process; both controller and rig share these files."""
    try:
        resource = resources.files(DBC_PACKAGE) / f"{name}.dbc"
    except ModuleNotFoundError:
        raise DbcNotFound(f"DBC file {name}.dbc not found: the package {DBC_PACKAGE!r} is not installed") from None
    if not resource.is_file():
        raise DbcNotFound(f"DBC file {name}.dbc not found in {resources.files(DBC_PACKAGE)} "
                          f"(shipped: {', '.join(dbc_names()) or 'none'}); reinstall the controller")
    # cp1252: the encoding cantools itself assumes for DBC files
    return cantools.database.load_string(resource.read_text(encoding="cp1252"), database_format="dbc", strict=True)
