"""Values that make no sense are refused with the key and the reason (controller/formats/cabinet/rules.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.formats.cabinet.config import ConfigError, parse_config
from controller.formats.cabinet.rules import unit_of

ROOT = Path(__file__).resolve().parents[1]
NEVI = (ROOT / "hil/setups/nevi/cabinet.toml").read_text()
DESK = (ROOT / "hil/setups/desk/cabinet.toml").read_text()


@pytest.mark.parametrize("override,key,reason", [
    ("power.keepalive_s=0", "power.keepalive_s", "positive"),
    ("store.heartbeat_s=-1", "store.heartbeat_s", "a time in s must be above 0 (got -1)"),
    ("console.lockout_s=0", "console.lockout_s", "a time in s must be above 0 (got 0)"),
    ("charging.precharge_timeout_s=nan", "charging.precharge_timeout_s", "finite"),
    ("charging.safe_voltage_v=0", "charging.safe_voltage_v", "a value in V must be above 0"),
    ("charging.power_margin=-0.1", "charging.power_margin", "must not be negative"),
    ("charging.communication_attempts=0", "charging.communication_attempts", "must be at least 1"),
    ("store.event_max_rows=0", "store.event_max_rows", "must be at least 1"),
    ("v2g.sdp_port=70000", "v2g.sdp_port", "not a port number"),
    ("charging.derate_start_c=95", "charging.derate_end_c", "must be above derate_start_c (95)"),
    ("charging.module_derate_end_c=60", "charging.module_derate_end_c", "must be above module_derate_start_c"),
    ("charging.cable_check_timeout_s=0.1", "charging.cable_check_timeout_s", "must be above cable_check_hold_s"),
    ("power.telemetry_period_s=20", "power.silent_after_s", "must be above telemetry_period_s (20)"),
])
def test_values_that_make_no_sense_name_the_key_and_the_reason(override, key, reason):
    with pytest.raises(ConfigError) as err:
        parse_config(DESK, overrides=(override,))
    assert err.value.key == key
    assert reason in err.value.reason


@pytest.mark.parametrize("override,key,reason", [
    ("connectors[0].max_power_kw=200", "connectors[0].max_power_kw",
     "200 kW is more than group 'P1': 6 uugreen modules of 30 kW can give (180 kW)"),
    ("connectors[0].max_current_a=700", "connectors[0].max_current_a",
     "700 A is more than group 'P1': 6 uugreen modules of 100 A can give (600 A)"),
    ("connectors[0].max_voltage_v=1100", "connectors[0].max_voltage_v", "above the uugreen modules' 1000 V"),
])
def test_a_connector_cannot_promise_more_than_its_modules_give(override, key, reason):
    with pytest.raises(ConfigError) as err:
        parse_config(NEVI, overrides=("max_cabinet_power_kw=0", "connectors[0].imd.fault_below_ohm=120000",
                                      "connectors[0].imd.warning_below_ohm=600000", override))
    assert err.value.key == key
    assert reason in err.value.reason


def test_zero_stays_allowed_where_it_means_off():
    cfg = parse_config(DESK, overrides=("max_cabinet_power_kw=0", "v2g.sdp_port=0", "v2g.tcp_port=0"))
    assert cfg.max_cabinet_power_kw == 0.0


def test_the_shipped_cabinets_pass_every_rule():
    assert parse_config(NEVI).connectors[0].max_power_kw == 150
    assert parse_config(DESK).connectors[0].max_power_kw == 60  # InfyPower reports its rating at run time


@pytest.mark.parametrize("name,unit", [
    ("keepalive_s", "s"), ("ramp_up_a_per_s", "A/s"), ("max_voltage_v", "V"), ("max_current_a", "A"),
    ("max_power_kw", "kW"), ("fault_below_ohm", "Ω"), ("derate_start_c", "°C"), ("frozen_margin_wh", "Wh"),
    ("event_retention_days", "days"), ("hysteresis", None), ("evse_id", None),
])
def test_units_come_from_the_name(name, unit):
    assert unit_of(name) == unit


def test_the_rules_cover_the_rigs_own_files_too():
    from controller.formats.cabinet.loader import build
    from hil.setup import ModuleSimConfig

    with pytest.raises(ConfigError) as err:
        build(ModuleSimConfig, {"vendor": "uugreen", "min_voltage_v": 900, "max_voltage_v": 500}, "modules")
    assert err.value.key == "modules.max_voltage_v" and "must be above min_voltage_v (900)" in err.value.reason
