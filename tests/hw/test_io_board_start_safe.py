"""A fresh I/O board driver commands nothing unsafe: its first frame asks for open contactors, no lock, no
maximum voltage (the board then refuses to close) and no state F (mutants starting with "close" or "lock"
survived every other test)."""
from __future__ import annotations

import pytest

from tests.hw.test_io_board import rig  # noqa: F401  (the fixture)

pytestmark = pytest.mark.timeout(20)


def test_the_first_command_of_a_fresh_driver_is_all_off(rig):  # noqa: F811
    rig.board.set_pwm(100)
    first = rig.commands()[0]
    assert first["CpDuty"] == 100.0
    assert (first["DcPlusClose"], first["DcMinusClose"], first["LockRequest"], first["RequestStateF"],
            first["ResetRequest"], first["MaxVoltage"]) == (0, 0, 0, 0, 0, 0.0)
