import pytest

from controller.store import Store
from controller.store.uptime import YEAR_MIN, YEAR_S, port_uptime, union_length
from tests.store.conftest import T0

pytestmark = pytest.mark.timeout(30)

NOW = T0
OLD = NOW - 2 * YEAR_S  # commissioned long ago: the window is the full 12 months
H = 3600.0


def _percent(down_min: float, window_min: float = YEAR_MIN) -> float:
    return (window_min - down_min) / window_min * 100


def test_union_length_counts_overlaps_once():
    assert union_length([]) == 0
    assert union_length([(0, 10), (5, 15), (20, 30), (30, 31)]) == 26
    assert union_length([(20, 30), (0, 100)]) == 100


def test_no_outage_is_full_uptime():
    assert port_uptime([], NOW, OLD) == {"percent": 100.0, "outage_min": 0.0, "excluded_min": 0.0,
                                         "window_min": YEAR_MIN, "window_start_t": NOW - YEAR_S}


def test_an_outage_inside_the_window_counts_whole():
    result = port_uptime([(NOW - 10 * H, NOW - 9 * H, False)], NOW, OLD)
    assert result["outage_min"] == 60 and result["percent"] == pytest.approx(_percent(60))


def test_an_outage_before_the_window_does_not_count():
    result = port_uptime([(NOW - YEAR_S - 3 * H, NOW - YEAR_S - H, False)], NOW, OLD)
    assert result["outage_min"] == 0 and result["percent"] == 100


def test_an_outage_straddling_the_window_start_is_clipped():
    result = port_uptime([(NOW - YEAR_S - H, NOW - YEAR_S + 2 * H, False)], NOW, OLD)
    assert result["outage_min"] == pytest.approx(120)


def test_an_open_outage_counts_up_to_now():
    result = port_uptime([(NOW - 2 * H, None, False)], NOW, OLD)
    assert result["outage_min"] == pytest.approx(120)


def test_an_outage_ending_after_now_is_clipped_to_now():
    assert port_uptime([(NOW - H, NOW + H, False)], NOW, OLD)["outage_min"] == pytest.approx(60)


def test_excluded_time_is_subtracted():
    rows = [(NOW - 100 * H, NOW - 90 * H, False), (NOW - 50 * H, NOW - 45 * H, True)]
    result = port_uptime(rows, NOW, OLD)
    assert (result["outage_min"], result["excluded_min"]) == (pytest.approx(900), pytest.approx(300))
    assert result["percent"] == pytest.approx(_percent(600))


def test_overlapping_outages_count_once_and_excluded_time_wins():
    rows = [(NOW - 10 * H, NOW - 6 * H, False), (NOW - 8 * H, NOW - 4 * H, True)]
    result = port_uptime(rows, NOW, OLD)
    assert result["outage_min"] == pytest.approx(360) and result["excluded_min"] == pytest.approx(240)
    assert result["percent"] == pytest.approx(_percent(120))


def test_a_cabinet_younger_than_a_year_uses_the_time_since_commissioning():
    commissioned = NOW - 10 * 24 * H
    result = port_uptime([(NOW - 24 * H, NOW - 12 * H, False), (commissioned - H, commissioned + H, False)],
                         NOW, commissioned)
    assert result["window_min"] == pytest.approx(14400)
    assert result["outage_min"] == pytest.approx(780)  # the outage before commissioning is clipped
    assert result["percent"] == pytest.approx(_percent(780, 14400))


def test_the_twelve_month_nevi_example_of_97_percent():
    down_min = 0.03 * YEAR_MIN
    result = port_uptime([(NOW - 1000 * H, NOW - 1000 * H + down_min * 60, False)], NOW, OLD)
    assert result["percent"] == pytest.approx(97.0)


def test_store_uptime_reads_the_port_outages(db_path, clock):
    store = Store(db_path, clock=clock)
    store.open()  # commissioned at T0
    clock.advance(30 * 24 * H)
    store.outage_started(1, "fault", t=T0 + 24 * H)
    store.outage_ended(1, t=T0 + 26 * H)
    store.outage_started(1, "utility outage", excluded=True, t=T0 + 48 * H)
    store.outage_ended(1, t=T0 + 49 * H)
    store.outage_started(2, "fault", t=T0 + 24 * H)  # another port
    store.outage_started(1, "fault", t=clock.now - H)  # still open
    store.flush()
    result = store.uptime(1)
    assert result["window_min"] == pytest.approx(30 * 24 * 60)
    assert (result["outage_min"], result["excluded_min"]) == (pytest.approx(240), pytest.approx(60))
    assert result["percent"] == pytest.approx(_percent(180, 30 * 24 * 60))
    # 400 days on the early outages fell out of the window; the open one fills all of it.
    later = store.uptime(1, now=clock.now + 400 * 24 * H)
    assert (later["window_min"], later["outage_min"], later["excluded_min"]) == (YEAR_MIN, YEAR_MIN, 0)
    assert later["percent"] == 0
    assert store.uptime(3)["percent"] == 100.0
    store.close()
