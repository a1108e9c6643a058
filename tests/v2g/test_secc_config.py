"""The [v2g] section of a cabinet file: defaults, and clear errors for bad values."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.formats.cabinet.config import load_config
from controller.formats.cabinet.loader import ConfigError

pytestmark = pytest.mark.timeout(30)

DESK = Path(__file__).resolve().parents[2] / "hil" / "setups" / "desk" / "cabinet.toml"


def test_defaults_keep_v2g_off_and_offer_both_protocols():
    v2g = load_config(DESK).v2g
    assert not v2g.enabled and v2g.protocols == ("din", "iso2") and v2g.sdp_port == 15118


def test_settings_load():
    v2g = load_config(DESK, ('v2g.enabled=true', 'v2g.interfaces=["plc0"]', 'v2g.protocols=["din"]',
                             'v2g.evcc_allow_list=["0465650064C3"]')).v2g
    assert v2g.enabled and v2g.interfaces == ("plc0",) and v2g.protocols == ("din",)
    assert v2g.evcc_allow_list == ("0465650064C3",)


@pytest.mark.parametrize("override, reason", [
    ('v2g.protocols=["din", "iso20"]', "protocols must be some of din, iso2"),
    ('v2g.protocols=[]', "protocols must be some of din, iso2"),
    ('v2g.evcc_allow_list=["not hex"]', "is not hex"),
    ('v2g.sdp_port="x"', "v2g.sdp_port"),
])
def test_bad_values_name_the_reason(override, reason):
    with pytest.raises(ConfigError, match=reason):
        load_config(DESK, (override,))


@pytest.mark.parametrize("port", [1, 15118, 49151, 65536])
def test_a_tcp_port_outside_the_dynamic_range_names_the_key(port):
    with pytest.raises(ConfigError) as caught:
        load_config(DESK, (f"v2g.tcp_port={port}",))
    assert caught.value.key == "v2g.tcp_port" and "49152-65535" in caught.value.reason


@pytest.mark.parametrize("port", [0, 49152, 65535])
def test_a_dynamic_tcp_port_or_zero_loads(port):
    assert load_config(DESK, (f"v2g.tcp_port={port}",)).v2g.tcp_port == port
