"""One vendor registry: driver and simulator are found by the same key, name the same DBC, and an unknown
vendor is one clear error listing the known keys."""
from __future__ import annotations

import types

import pytest

from controller.formats.cabinet.config import ConfigError
from controller.formats.can.dbc import dbc_names
from controller.hw.power import VENDORS, PowerModuleDriver, driver_class, known_vendors, vendor_dbc
from controller.hw.power.registry import VendorRegistryError, _collect
from hil.sim.power_vendors import SIMULATORS


def test_every_driver_key_has_a_simulator_with_the_same_dbc_and_vice_versa():
    assert set(VENDORS) == set(SIMULATORS)
    assert {"infypower", "uugreen", "uugreen-40"} <= set(VENDORS)
    for key, driver in VENDORS.items():
        assert driver.name == key
        assert SIMULATORS[key].dbc == driver.dbc == vendor_dbc(key), key
        assert driver.dbc in dbc_names()


def test_variant_keys_map_to_their_own_driver():
    assert driver_class("uugreen-40")(0).fixed_rating.max_power_w == 40_000.0
    assert driver_class("uugreen")(0).fixed_rating.max_power_w == 30_000.0


def test_an_unknown_vendor_names_the_known_keys():
    with pytest.raises(ValueError, match=r"unknown power module vendor 'nosuch' \(known: .*infypower, uugreen, "):
        driver_class("nosuch")
    assert vendor_dbc("nosuch") is None


def test_an_unknown_vendor_in_a_cabinet_file_is_one_config_error_listing_the_keys(tmp_path):
    from controller.formats.cabinet.config import load_config
    from hil.setup import cabinet_path

    text = cabinet_path("desk").read_text().replace('vendor = "infypower"', 'vendor = "nosuch"')
    path = tmp_path / "cabinet.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"config error at 'power.vendor': unknown vendor 'nosuch' (known: {known_vendors()})"
    assert "infypower, uugreen, uugreen-40" in known_vendors()


def test_two_vendor_modules_declaring_one_key_are_refused():
    one = types.ModuleType("one")
    one.DRIVERS = (VENDORS["infypower"],)
    two = types.ModuleType("two")
    two.DRIVERS = (VENDORS["infypower"],)
    with pytest.raises(VendorRegistryError, match="'infypower' declared by both"):
        _collect([one, two])


def test_a_driver_without_a_dbc_is_refused():
    class NoDbc(PowerModuleDriver):  # abstract methods do not matter: the class is never built
        name = "nodbc"

    module = types.ModuleType("nodbc")
    module.DRIVERS = (NoDbc,)
    with pytest.raises(VendorRegistryError, match="must declare name and dbc"):
        _collect([module])
