"""Meter, IMD and link configs built from TOML through the cabinet config loader: defaults and clear errors."""
import tomllib

import pytest

from controller.formats.cabinet.loader import ConfigError, build
from controller.formats.cabinet.modbus_devices import ImdConfig, MeterConfig

pytestmark = pytest.mark.timeout(30)


def _build(cls, text: str, path: str = "connectors[0].meter"):
    return build(cls, tomllib.loads(text), path)


def test_rtu_meter_and_tcp_imd():
    meter = _build(MeterConfig, 'model = "generic_float32"\nunit_id = 7\npoll_period_s = 0.5\n'
                   'link = { transport = "rtu", serial_port = "/dev/ttyS1", baudrate = 9600, parity = "E" }')
    assert (meter.model, meter.unit_id, meter.poll_period_s) == ("generic_float32", 7, 0.5)
    assert meter.link.describe() == "rtu /dev/ttyS1 9600 8E1"
    imd = _build(ImdConfig, 'warning_below_ohm = 400_000\nlink = { host = "10.0.0.5", port = 1502 }',
                 "connectors[0].imd")
    assert (imd.model, imd.unit_id, imd.fault_below_ohm, imd.warning_below_ohm) == \
        ("bender_isocha425hv", 3, 100_000.0, 400_000.0)
    assert imd.link.describe() == "tcp 10.0.0.5:1502"


@pytest.mark.parametrize("cls, text, key, reason", [
    (MeterConfig, 'link = { transport = "rtu" }', "connectors[0].meter.link", "serial_port: an rtu link needs"),
    (MeterConfig, 'link = { transport = "udp" }', "connectors[0].meter.link.transport", "'udp' is not one of"),
    (MeterConfig, 'link = { parity = "X", transport = "rtu", serial_port = "/dev/x" }',
     "connectors[0].meter.link.parity", "'X' is not one of"),
    (MeterConfig, 'link = { port = 0 }', "connectors[0].meter.link", "port: 0 is not a TCP port"),
    (MeterConfig, 'model = "nope"', "connectors[0].meter", "model: no such model"),
    (MeterConfig, 'model = "bender_isocha425hv"', "connectors[0].meter", "of kind 'imd', expected 'meter'"),
    (MeterConfig, 'unit_id = 0\nlink = { transport = "rtu", serial_port = "/dev/x" }', "connectors[0].meter",
     "unit_id: 0 is outside 1..247 for rtu"),
    (MeterConfig, 'stale_after_s = 0.5', "connectors[0].meter", "stale_after_s: must be longer than the poll"),
    (MeterConfig, 'retries = -1', "connectors[0].meter", "retries: must be 0 or more"),
    (MeterConfig, 'colour = "red"', "connectors[0].meter.colour", "unknown key"),
    (ImdConfig, 'warning_below_ohm = 50_000', "connectors[0].meter", "warning_below_ohm: must not be below"),
    (ImdConfig, 'hysteresis = 1.5', "connectors[0].meter", "hysteresis: must be in 0..1"),
])
def test_bad_values_name_the_key_and_the_reason(cls, text, key, reason):
    with pytest.raises(ConfigError) as info:
        _build(cls, text)
    assert info.value.key == key
    assert reason in info.value.reason


def test_drivers_check_hand_built_configs():
    from controller.hw.meter import EnergyMeter
    with pytest.raises(ValueError, match="unit_id: 300 is outside 0..255"):
        EnergyMeter(MeterConfig(unit_id=300), lambda code, detail, active: None)
