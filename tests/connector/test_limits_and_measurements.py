"""The limits told to the car and applied, and the output measurements every guard reads, each at its edge
(issue 19's surviving mutants of limits.py and output_measurements.py)."""
from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import pytest

from controller.connector.ev_session import EvChargeParameters
from controller.connector.limits import Limits
from controller.connector.output_measurements import OutputMeasurements
from controller.formats.cabinet.config import ConnectorConfig
from tests.connector.fakes import FakeBoard, FakeCaps, FakeGroup, FakeStatus

pytestmark = pytest.mark.timeout(30)


def limits(*, cable_a=200, cable_kw=60, caps: FakeCaps = FakeCaps(max_current_a=150.0, max_power_w=90_000.0),
           derated_w=math.inf, ev: EvChargeParameters | None = None, external=(math.inf, math.inf)):
    cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=cable_a, max_power_kw=cable_kw,
                          group="A")
    group = FakeGroup()
    group.capabilities = caps
    made = Limits(cfg, group, derated_power_w=lambda: derated_w, ev_parameters=lambda: ev)
    made.external = lambda: external
    return made


@pytest.mark.parametrize("cable_a, caps_a, external_a, told", [
    (200, 150.0, 120.0, 120.0), (200, 100.0, 120.0, 100.0), (80, 150.0, 120.0, 80.0)])
def test_the_current_told_to_the_car_is_the_lowest_of_cable_modules_and_operator(cable_a, caps_a, external_a, told):
    offer = limits(cable_a=cable_a, caps=FakeCaps(max_current_a=caps_a), external=(math.inf, external_a))
    assert offer.evse_charge_parameters().max_current_a == told


def test_the_fixed_values_told_to_the_car_and_the_operators_schedule():
    offer = limits()
    offer.power_schedule = lambda: ((0, 30_000.0), (600, 45_000.0))
    told = offer.evse_charge_parameters()
    assert (told.min_current_a, told.current_regulation_tolerance_a, told.peak_current_ripple_a) == (0.0, 5.0, 5.0)
    assert told.power_schedule == ((0, 30_000.0), (600, 45_000.0))
    assert told.max_power_w == 60_000.0  # the cable's 60 kW, below the modules' 90 kW


@pytest.mark.parametrize("ev_power_w, port_w", [(50_000.0, 50_000.0), (0.0, 60_000.0), (None, 60_000.0)])
def test_the_cars_maximum_power_limits_the_port_and_0_means_none(ev_power_w, port_w):
    ev = EvChargeParameters(max_voltage_v=420, max_current_a=150, max_power_w=ev_power_w)
    assert limits(ev=ev).own_power_w() == port_w


def test_the_operators_power_limits_the_port_not_its_current():
    assert limits(external=(30_000.0, 500.0)).power_w() == 30_000.0


@pytest.mark.parametrize("voltage_v, expected", [
    (1.0, (150.0, "current")),        # no power limit judged at 1 V or below
    (1.5, (100.0 / 1.5, "power")),   # just above it: 100 W at 1.5 V
])
def test_the_power_limit_counts_only_above_1_v(voltage_v, expected):
    current, what = limits(derated_w=100.0).current_a(voltage_v)
    assert (current, what) == (pytest.approx(expected[0]), expected[1])


@pytest.mark.parametrize("kwargs, expected", [
    (dict(cable_a=90), (90.0, "current")),
    (dict(caps=FakeCaps(max_current_a=70.0)), (70.0, "current")),
    (dict(ev=EvChargeParameters(max_voltage_v=420, max_current_a=60)), (60.0, "ev")),
    (dict(external=(math.inf, 50.0)), (50.0, "current")),
])
def test_what_limits_the_current_is_named_for_the_cars_limit_flags(kwargs, expected):
    assert limits(**kwargs).current_a(400.0) == expected


# ---- the output measurements ---------------------------------------------------------------------------------------
def measurements(status=FakeStatus(), modules=()):
    board, group = FakeBoard(), FakeGroup()
    board.status = status
    if modules:
        group.module_states = lambda: list(modules)
    return OutputMeasurements(board, group), board, group


@pytest.mark.parametrize("plus, minus, closed, opened", [
    (True, True, True, False), (True, False, False, False), (False, True, False, False), (False, False, False, True)])
def test_one_pole_alone_is_neither_closed_nor_open(plus, minus, closed, opened):
    out, _, _ = measurements(FakeStatus(dc_plus_closed=plus, dc_minus_closed=minus))
    assert (out.contactors_closed(), out.contactors_open()) == (closed, opened)


def test_without_a_board_status_the_contactors_are_not_known_open():
    out, _, _ = measurements(None)
    assert (out.contactors_closed(), out.contactors_open()) == (False, False)


def test_the_boards_cable_current_is_dated_by_its_measure_or_else_its_status():
    out, _, _ = measurements(FakeStatus(cable_current_a=-12.5, measure_t=1000.25))
    assert out.current(1001.0) == (12.5, 1000.25)
    status = SimpleNamespace(**{**vars(FakeStatus(cable_current_a=12.5)), "measure_t": None, "t": 1000.5})
    out, _, _ = measurements(status)
    assert out.current(1001.0) == (12.5, 1000.5)


def test_without_a_cable_current_the_modules_telemetry_is_as_old_as_its_oldest_answering_module():
    modules = [{"state": "ok", "last_seen_age_s": 0.25}, {"state": "ok", "last_seen_age_s": 0.5},
               {"state": "lost", "last_seen_age_s": 30.0}, {"state": "ok", "last_seen_age_s": None}]
    out, board, group = measurements(FakeStatus(cable_current_a=math.nan), modules)
    group.output_current_a = -40.0
    assert out.current(1000.0) == (40.0, 999.5)
    out, board, group = measurements(replace(FakeStatus(), cable_current_a=None),
                                     [{"state": "lost", "last_seen_age_s": 3.0}])
    assert out.current(1000.0) == (0.0, None)
