"""Safety settings of the cabinet file: isolation thresholds against the cable's voltage, and every supervisor
setting documented by its trailing comment (the settings generator reads those)."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from controller.formats.cabinet.config import ChargingConfig, ConfigError, parse_config
from tests.test_config import GOOD

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("key, value, ok", [
    ("fault_below_ohm", 50_000, True),      # 500 V cable: 100 ohm/V = 50 kohm
    ("fault_below_ohm", 49_999, False),
    ("warning_below_ohm", 250_000, True),   # 500 ohm/V = 250 kohm
    ("warning_below_ohm", 249_999, False),
])
def test_isolation_thresholds_are_checked_against_the_cable_max_voltage(key, value, ok):
    overrides = (f"connectors[0].imd.{key}={value}",)
    if key == "warning_below_ohm":
        overrides += ("connectors[0].imd.fault_below_ohm=50000",)
    if ok:
        parse_config(GOOD, overrides=overrides)
        return
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD, overrides=overrides)
    assert f"imd.{key}" in str(err.value) and "ohm/V" in str(err.value)


def test_a_higher_cable_voltage_needs_higher_thresholds():
    with pytest.raises(ConfigError):  # the default 100 kohm is below 100 ohm/V at 1500 V
        parse_config(GOOD, overrides=("connectors[0].max_voltage_v=1500",))


SUPERVISOR_SETTINGS = (
    "overvoltage_margin_v", "overvoltage_error_s", "overcurrent_margin_a", "overcurrent_error_s", "command_follow_s",
    "measurement_stale_s", "voltage_mismatch_v", "voltage_mismatch_s", "temperature_stale_s", "derate_start_c",
    "derate_end_c", "module_derate_start_c", "module_derate_end_c", "power_margin", "power_trip_margin",
    "power_trip_s",
)


def test_supervisor_settings_exist_with_a_comment_and_iec_defaults():
    source = inspect.getsource(ChargingConfig)
    names = {f.name for f in dataclasses.fields(ChargingConfig)}
    for name in SUPERVISOR_SETTINGS:
        assert name in names
        line = next(line for line in source.splitlines() if line.strip().startswith(f"{name}:"))
        assert "  # " in line, f"{name} has no comment"
    defaults = ChargingConfig()
    assert defaults.overvoltage_error_s == 0.4  # IEC 61851-23: error shutdown after 400 ms above the maximum
    assert defaults.derate_end_c == 90.0  # derating reaches zero at the over-temperature trip
