"""The station-wide limit's split over the EVSEs in use (water-filling)."""
from __future__ import annotations

from hypothesis import given, strategies as st

from controller.ocpp.smart_charging.station_split import share_of, split


def test_equal_shares_and_what_a_small_port_leaves_goes_to_the_others():
    assert split(300_000, {1: 150_000, 2: 150_000, 3: 150_000, 4: 150_000}) == {e: 75_000 for e in (1, 2, 3, 4)}
    assert split(300_000, {1: 50_000, 2: 350_000, 3: 350_000}) == {1: 50_000, 2: 125_000, 3: 125_000}


def test_an_evse_not_in_use_is_offered_the_share_it_would_have():
    assert share_of(4, 300_000, {1: 350_000, 2: 350_000}) == 100_000


@given(st.floats(0, 1e6), st.dictionaries(st.integers(1, 8), st.floats(0, 5e5), min_size=1))
def test_shares_never_add_up_above_the_limit_nor_above_a_ceiling(limit, ceilings):
    shares = split(limit, ceilings)
    assert set(shares) == set(ceilings)
    assert sum(shares.values()) <= limit * (1 + 1e-9) + 1e-6
    assert all(shares[e] <= ceilings[e] + 1e-6 for e in shares)
