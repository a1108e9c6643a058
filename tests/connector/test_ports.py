"""Issue 14: the connector's seams are typed Protocols (ports.py) and the real drivers fit them: every method and
property a port declares exists on the driver with the same parameters, and every attribute is set by it."""
from __future__ import annotations

import inspect
import typing

import pytest

from controller.connector import ports
from controller.connector.connector import Connector
from controller.hw.imd import InsulationMonitor
from controller.hw.io_board import IoBoard
from controller.hw.meter import EnergyMeter
from controller.hw.power.group import PowerModuleGroup

pytestmark = pytest.mark.timeout(30)


def _members(protocol) -> dict[str, object]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    return {n: vars(protocol).get(n) for n in names}


def _sets_attribute(cls, name: str) -> bool:
    source = "".join(inspect.getsource(c) for c in cls.__mro__ if c is not object)
    return f"self.{name} =" in source or f"self.{name}:" in source or isinstance(getattr(cls, name, None), property)


@pytest.mark.parametrize("protocol, driver", [
    (ports.IoBoardPort, IoBoard), (ports.ModuleGroupPort, PowerModuleGroup),
    (ports.MeterPort, EnergyMeter), (ports.ImdPort, InsulationMonitor), (ports.EvSession, Connector),
])
def test_the_driver_fits_its_port(protocol, driver):
    for name, declared in _members(protocol).items():
        if callable(declared) and not isinstance(declared, property):
            actual = getattr(driver, name, None)
            assert callable(actual), f"{driver.__name__}.{name} missing"
            want = list(inspect.signature(declared).parameters)
            have = list(inspect.signature(actual).parameters)
            assert have[:len(want)] == want, f"{driver.__name__}.{name}{have} != {want}"
        else:
            assert hasattr(driver, name) or _sets_attribute(driver, name), f"{driver.__name__}.{name} missing"


def test_no_any_at_the_seams():
    from controller.v2g.secc import context, session, station
    assert typing.get_type_hints(context.SeccContext)["connector"] is ports.EvSession
    assert typing.get_type_hints(session.SeccSession.__init__)["connector"] is ports.EvSession
    assert typing.get_type_hints(station.SeccStation.__init__)["connector"] is ports.EvSession
    hints = typing.get_type_hints(Connector.__init__)
    assert hints["io"] is ports.IoBoardPort and hints["group"] is ports.ModuleGroupPort
