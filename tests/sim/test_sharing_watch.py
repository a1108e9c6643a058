"""The report's sharing section (hil/sharing_watch.py) from samples: the fourth car's time to its floor, the time
above the site limit."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from hil.sharing_watch import SharingWatch

pytestmark = pytest.mark.timeout(10)


def _watch(samples, plugged):
    watch = SharingWatch(SimpleNamespace(controller=None))
    watch.samples, watch.plugged_t = samples, plugged
    return watch


def _row(t, power, available=None, active=(), floor=None):
    row = {"t": t, "power_w": power}
    if available is not None:
        row.update(available_w=available, active=list(active), floor_w=floor)
    return row


def test_the_fourth_car_counts_from_its_plug_in_until_every_port_with_a_car_has_its_floor():
    floors = {1: 150_000.0, 2: 133_000.0, 4: 150_000.0}  # port 2's car and cable take 133 kW at most
    samples = [
        _row(10.0, {1: 0.0}, {1: 300_000.0, 2: 140_000.0, 4: 0.0}, (1, 2), floors),
        _row(10.5, {1: 0.0}, {1: 300_000.0, 2: 140_000.0, 4: 0.0}, (1, 2, 4), floors),
        _row(11.0, {1: 0.0}, {1: 200_000.0, 2: 140_000.0, 4: 90_000.0}, (1, 2, 4), floors),
        _row(11.7, {1: 0.0}, {1: 200_000.0, 2: 133_000.0, 4: 150_000.0}, (1, 2, 4), floors),
    ]
    report = _watch(samples, {1: 0.0, 2: 1.0, 4: 10.4}).report(600_000.0)
    assert report["fourth_car_to_floor_s"] == pytest.approx(1.3)


def test_time_above_the_site_limit_counts_only_beyond_two_percent_and_the_longest_stretch():
    samples = [_row(t, {1: w}) for t, w in ((0.0, 600_000.0), (0.1, 611_000.0), (0.2, 615_000.0), (0.5, 615_000.0),
                                            (0.6, 590_000.0), (1.0, 700_000.0), (1.1, 600_000.0))]
    report = _watch(samples, {}).report(600_000.0)
    assert report["over_site_limit_s"] == pytest.approx(0.3) and report["cabinet_peak_kw"] == 700.0
    assert report["fourth_car_to_floor_s"] is None
