"""Issue 13: settings that claim a safety behaviour are used or gone; every DC connector has an IMD."""
from __future__ import annotations

import pytest

from controller.formats.cabinet.config import ConfigError, parse_config

pytestmark = pytest.mark.timeout(30)

CABINET = """
name = "t"
{cabinet}
[can.io]
interface = "virtual"
channel = "x"
[power]
vendor = "infypower"
can = "io"
groups = [{{ name = "A", addresses = [1] }}, {{ name = "B", addresses = [2] }}]
[[connectors]]
id = 1
type = "CCS1"
max_voltage_v = 500
max_current_a = 200
max_power_kw = 60
group = "A"
{imd}
[[connectors]]
id = 2
type = "CCS1"
max_voltage_v = 500
max_current_a = 200
max_power_kw = 60
group = "B"
imd = {{ model = "bender_isocha425hv", unit_id = 3, link = {{ transport = "tcp", host = "127.0.0.1", port = 1505 }} }}
{charging}
"""
IMD = 'imd = { model = "bender_isocha425hv", unit_id = 3, link = { transport = "tcp", host = "127.0.0.1", port = 1503 } }'


def cabinet(cabinet="", imd=IMD, charging=""):
    return CABINET.format(cabinet=cabinet, imd=imd, charging=charging)


def test_a_dc_connector_without_an_imd_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        parse_config(cabinet(imd=""))
    assert err.value.key == "connectors[0].imd" and "insulation monitor" in err.value.reason


@pytest.mark.parametrize("cap,ok", [("", True), ("max_cabinet_power_kw = 0", True), ("max_cabinet_power_kw = 120", True),
                                    ("max_cabinet_power_kw = 119", False), ("max_cabinet_power_kw = -1", False)])
def test_cabinet_power_caps_the_sum_of_the_port_limits(cap, ok):
    if ok:
        parse_config(cabinet(cabinet=cap))
        return
    with pytest.raises(ConfigError) as err:
        parse_config(cabinet(cabinet=cap))
    assert err.value.key == "max_cabinet_power_kw"


def test_welding_voltage_setting_is_gone():
    """It claimed a welding check on the cable voltage that nothing did; the check is the contactors' feedback."""
    with pytest.raises(ConfigError) as err:
        parse_config(cabinet(charging="[charging]\nwelding_voltage_v = 60"))
    assert err.value.key == "charging.welding_voltage_v" and "unknown key" in err.value.reason
