"""The sharing parts built from the nevi-shared cabinet file: its groups, their reach, the matrix timing."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.formats.cabinet.config import load_config
from controller.power_sharing.cabinet_setup import coordinator_for, group_ratings, move_timing
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]


def test_nevi_shared_gives_eight_90_kw_groups_that_reach_every_output():
    cabinet = load_config(ROOT / "hil/setups/nevi-shared/cabinet.toml", ("power.matrix.car_follow_s=1.2",))
    ratings = group_ratings(cabinet)
    assert [(g.name, g.max_power_w, g.max_current_a, g.outputs) for g in ratings][:1] == \
        [("G1", 90_000.0, 300.0, frozenset({1, 2, 3, 4}))]
    assert len(ratings) == 8
    timing = move_timing(cabinet)
    assert (timing.car_follow_s, timing.open_below_a, timing.close_within_v) == (1.2, 1.0, 20.0)


class _OpenMatrix:
    def closed_output(self, group):
        return None


def test_the_coordinator_takes_the_floor_and_hysteresis_from_the_cabinet():
    cabinet = load_config(ROOT / "hil/setups/nevi-shared/cabinet.toml", ("power.matrix.nevi_floor_kw=120",))
    coordinator = coordinator_for(cabinet, plant=None, matrix=_OpenMatrix(), clock=FakeClock())
    assert coordinator.nevi_floor_w == 120_000.0 and coordinator.hysteresis_w == 10_000.0


def test_a_static_cabinet_has_no_group_ratings_to_share():
    cabinet = load_config(ROOT / "hil/setups/nevi/cabinet.toml")
    with pytest.raises(ValueError, match="no \\[power.matrix\\]"):
        group_ratings(cabinet)
