"""The rig's car models (hil/ev/charge_curves.py): charge curves with taper, voltage classes, scaled batteries."""
from __future__ import annotations

import pytest

from hil.ev.charge_curves import CAR_MODELS, TIME_SCALE, car_model

pytestmark = pytest.mark.timeout(10)


def test_an_800_v_car_asks_for_350_kw_on_its_plateau_and_tapers_towards_full():
    car = car_model("800v-350kw")
    assert car.power_w(30.0) >= 330_000.0 and car.power_w(80.0) == pytest.approx(150_000.0)
    assert car.power_w(95.0) < car.power_w(85.0) < car.power_w(70.0)
    battery = car.battery(soc=30.0)
    volts = battery.open_circuit_voltage()
    assert 600.0 < volts < 800.0  # 800 V class
    assert battery.requested_current_a() == pytest.approx(min(500.0, car.power_w(30.0) / volts))


def test_the_voltage_classes_and_peaks_are_those_the_issue_names():
    peaks = {name: max(kw for _, kw in m.curve_kw) for name, m in CAR_MODELS.items()}
    assert peaks["800v-350kw"] == 350 and 150 <= peaks["400v-250kw"] <= 250
    assert 150 <= peaks["400v-150kw"] <= 250 and peaks["old-50kw"] == 50
    assert CAR_MODELS["800v-350kw"].ocv_full_v == 800.0
    assert all(m.ocv_full_v <= 410.0 for n, m in CAR_MODELS.items() if n != "800v-350kw")


def test_the_battery_is_scaled_so_a_real_minute_takes_a_second_at_real_power():
    car = car_model("400v-150kw")
    battery = car.battery(soc=20.0)
    assert battery.capacity_wh == pytest.approx(car.capacity_kwh * 1000.0 / TIME_SCALE)
    amps = battery.requested_current_a()
    battery.absorb(amps, 1.0)  # one rig second at the real current
    real_minute_pct = 100.0 * amps * battery.open_circuit_voltage() / 60.0 / (car.capacity_kwh * 1000.0)
    assert battery.soc_percent - 20.0 == pytest.approx(real_minute_pct, rel=0.01)


def test_an_old_car_never_asks_for_more_than_its_current_and_an_unknown_model_is_one_clear_error():
    battery = car_model("old-50kw").battery(soc=5.0)
    assert battery.requested_current_a() <= 125.0
    with pytest.raises(ValueError, match="unknown car model 'tesla-roadster'.*800v-350kw"):
        car_model("tesla-roadster")
