"""The power bus's load from the config: the modules' reads and keep-alives, each answered, must leave room."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.hw.power import VENDORS
from controller.hw.power.bus_load import (BITS_PER_FRAME, describe_overload, frames_per_second,
                                          io_board_frames_per_second, load_fraction)

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def _uugreen_frames(telemetry_period_s: float, keepalive_s: float) -> float:
    return frames_per_second(VENDORS["uugreen"](0), list(range(1, 25)), keepalive_s=keepalive_s,
                             telemetry_period_s=telemetry_period_s)


def test_frames_count_every_request_and_its_answer():
    # UUGreen: 3 reads per cycle plus the temperature every 5th; per keep-alive 2 setpoint frames and on/off
    assert _uugreen_frames(0.5, 1.0) == pytest.approx(24 * 2 * (3.2 / 0.5 + 3 / 1.0))
    # an I/O board: command every 50 ms, status and DC measure every 20 ms, temperatures at 1 Hz
    assert io_board_frames_per_second(0.05) == pytest.approx(20 + 50 + 50 + 1)
    assert load_fraction(1000, 150_000) == pytest.approx(1000 * BITS_PER_FRAME / 150_000)


def test_twenty_four_modules_polled_five_times_a_second_overload_a_125k_bus():
    frames = _uugreen_frames(0.2, 0.5)
    problem = describe_overload(frames, 125_000, 24)
    assert problem is not None and "24 modules need about 1056 frames/s, 127% of a 125 kbit/s bus" in problem
    assert describe_overload(_uugreen_frames(0.5, 1.0), 125_000, 24) is None  # the nevi cabinet: 54 %
    assert describe_overload(frames, 500_000, 24) is None


def test_the_controller_refuses_an_overloaded_power_bus_naming_the_key():
    run = subprocess.run([sys.executable, "-m", "controller", "--config", str(ROOT / "hil/setups/nevi/cabinet.toml"),
                          "--set", "power.telemetry_period_s=0.2", "--set", "power.keepalive_s=0.5"],
                         capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert run.returncode == 2
    assert "config error at 'power.telemetry_period_s'" in run.stderr and "kbit/s bus" in run.stderr


def test_io_boards_on_the_power_bus_count_too():
    """nevi's modules fit a 125 kbit/s bus alone (54 %), not with its four I/O boards on the same channel."""
    cabinet = ROOT / "hil/setups/nevi/cabinet.toml"
    alone = subprocess.run([sys.executable, "-c", "import sys; from controller.app import ControllerApp; "
                            "from controller.formats.cabinet.config import load_config; "
                            "ControllerApp(load_config(sys.argv[1], tuple(sys.argv[2:])))._check_power_bus()",
                            str(cabinet), 'can.io.channel="nevi-power"'],
                           capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert alone.returncode != 0 and "24 modules need about" in alone.stderr and "% of a 125 kbit/s" in alone.stderr


def test_periods_must_be_positive_and_finite():
    for value in ("0", "-1", "nan"):
        run = subprocess.run([sys.executable, "-m", "controller", "--config", str(ROOT / "hil/setups/desk/cabinet.toml"),
                              "--set", f"power.telemetry_period_s={value}"], capture_output=True, text=True, cwd=ROOT,
                             timeout=30)
        assert run.returncode == 2 and "config error at 'power.telemetry_period_s': must be a positive" in run.stderr
