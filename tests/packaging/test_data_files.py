"""Data files are found through the installed packages, and the list of required DBCs matches the code."""
from __future__ import annotations

import re
from pathlib import Path

from controller.formats.can.dbc import REQUIRED, dbc_names, load_dbc
from controller.hw.power import VENDORS
from hil.sim.power_vendors import simulator_dbcs

ROOT = Path(__file__).resolve().parents[2]


def test_every_dbc_the_code_loads_is_required_and_shipped():
    used = set()
    for folder in ("controller", "hil", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r'load_dbc\("([a-z0-9_]+)"\)', path.read_text()))
    declared = {driver.dbc for driver in VENDORS.values()} | simulator_dbcs()  # each vendor names its own
    assert used | declared == set(REQUIRED) | declared
    assert set(REQUIRED) | declared <= set(dbc_names())


def test_dbcs_load_through_the_dbc_package():
    assert load_dbc("io_board").get_message_by_name("IoStatus") is not None
