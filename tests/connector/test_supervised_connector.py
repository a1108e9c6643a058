"""The real Connector with its SafetySupervisor, driven through fake drivers: what the car hears and what goes
on the wires when a measurement leaves its limits. One test per finding of issue 13 that the supervisor owns."""
from __future__ import annotations

import pytest

from controller.config import ChargingConfig, ConnectorConfig
from controller.connector.connector import Connector
from controller.connector.ev_session import IsolationLevel
from controller.faults import Fault
from tests.connector.fakes import FakeBoard, FakeClock, FakeGroup

pytestmark = pytest.mark.timeout(30)


def make(**charging):
    board, group, clock = FakeBoard(), FakeGroup(), FakeClock()
    events = []
    cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A")
    conn = Connector(cfg, ChargingConfig(**charging), board, group, clock=clock, wall_clock=clock,
                     on_event=lambda k, d: events.append((k, d)))
    return conn, board, group, clock, events


@pytest.mark.parametrize("state", ["precharge", "charging"])
def test_an_isolation_warning_is_reported_to_the_car_as_warning_not_valid(state):
    conn, *_ = make()
    conn.machine.set_state(state, model=conn)
    assert conn.evse_status().isolation == IsolationLevel.VALID
    conn.active_faults["ISOLATION_WARNING"] = Fault("ISOLATION_WARNING", 1, "400 kohm", 0.0)
    assert conn.evse_status().isolation == IsolationLevel.WARNING
