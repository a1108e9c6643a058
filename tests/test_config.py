"""Cabinet configuration: the shipped setups load, and bad files name the key and the reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.formats.cabinet.config import ConfigError, load_config, parse_config

pytestmark = pytest.mark.timeout(30)
SETUPS = Path(__file__).resolve().parents[1] / "hil" / "setups"

GOOD = """
name = "t"
[can.io]
interface = "virtual"
channel = "x"
[power]
vendor = "infypower"
can = "io"
groups = [{ name = "A", addresses = [1, 2] }]
[[connectors]]
id = 1
type = "CCS1"
max_voltage_v = 500
max_current_a = 200
max_power_kw = 60
group = "A"
[connectors.imd]
model = "bender_isocha425hv"
unit_id = 3
link = { transport = "tcp", host = "127.0.0.1", port = 1503 }
"""


@pytest.mark.parametrize("name", ["desk", "nevi"])
def test_shipped_cabinets_load(name):
    cfg = load_config(SETUPS / name / "cabinet.toml")
    assert cfg.connectors and cfg.power.groups


def test_nevi_has_four_ports_of_150kw_with_ccs1_and_nacs():
    cfg = load_config(SETUPS / "nevi" / "cabinet.toml")
    assert [c.type for c in cfg.connectors] == ["CCS1", "CCS1", "NACS", "NACS"]
    assert all(c.max_power_kw >= 150 for c in cfg.connectors)
    assert sum(len(g.addresses) for g in cfg.power.groups) == 24


def test_good_minimal_config():
    cfg = parse_config(GOOD)
    assert cfg.can["io"].interface == "virtual"
    assert cfg.charging.ramp_up_a_per_s == 25.0  # EVerest's default, above IEC's 20 A/s minimum


@pytest.mark.parametrize("change,key,reason", [
    (("max_current_a = 200", "max_current_a = \"lots\""), "connectors[0].max_current_a", "expected a number"),
    (("type = \"CCS1\"", "type = \"CHAdeMO\""), "connectors[0].type", "is not one of"),
    (("group = \"A\"", "group = \"B\""), "connectors[0].group", "no module group"),
    (("can = \"io\"", "can = \"power\""), "power.can", "no [can.power] channel"),
    (("id = 1", "id = 1\ncolour = \"red\""), "connectors[0].colour", "unknown key"),
    (("max_power_kw = 60\n", ""), "connectors[0].max_power_kw", "missing required key"),
    (("[can.io]", "[can.io"), "<string>", "not valid TOML"),
])
def test_bad_config_names_key_and_reason(change, key, reason):
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace(*change))
    assert err.value.key == key
    assert reason in err.value.reason


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "missing.toml")
    assert "cannot read" in str(err.value)


def test_overrides_change_keys_before_checking():
    cfg = parse_config(GOOD, overrides=("connectors[0].max_current_a=150", "can.io.channel=other",
                                        "connectors[0].meter.link.port=1502"))
    assert cfg.connectors[0].max_current_a == 150.0
    assert cfg.can["io"].channel == "other"
    assert cfg.connectors[0].meter.link.port == 1502
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD, overrides=("connectors[3].id=2",))
    assert "no list entry 3" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD, overrides=("connectors[0].imd.link.port=99999",))
    assert err.value.key == "connectors[0].imd.link"
