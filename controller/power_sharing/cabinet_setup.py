"""The power-sharing parts built from a cabinet file with a [power.matrix]: group ratings, move timing, the
coordinator. Module ratings come from the vendor's driver (fixed) or, for vendors that report theirs at run
time, from what the modules said (`rating` argument)."""
from __future__ import annotations

from typing import Callable

from controller.formats.cabinet.config import CabinetConfig
from controller.hw.power.base import ModuleRating
from controller.hw.power.registry import VENDORS
from controller.power_sharing.allocator import GroupRating
from controller.power_sharing.coordinator import SharingCoordinator
from controller.power_sharing.group_move import MatrixContacts, MovePlant, MoveTiming


def module_rating(cabinet: CabinetConfig) -> ModuleRating | None:
    return VENDORS[cabinet.power.vendor](0).fixed_rating


def group_ratings(cabinet: CabinetConfig, rating: ModuleRating | None = None) -> list[GroupRating]:
    """One rating per group: its modules' power and current added up, and the outputs its contacts reach."""
    matrix = cabinet.power.matrix
    if matrix is None:
        raise ValueError("the cabinet has no [power.matrix]")
    rating = rating or module_rating(cabinet)
    if rating is None:
        raise ValueError(f"the {cabinet.power.vendor} modules report their rating at run time: pass it")
    reach = {link.group: frozenset(link.outputs) for link in matrix.links}
    return [GroupRating(g.name, rating.max_power_w * len(g.addresses), rating.max_current_a * len(g.addresses),
                        reach[g.name]) for g in cabinet.power.groups]


def move_timing(cabinet: CabinetConfig) -> MoveTiming:
    matrix = cabinet.power.matrix
    # a move judges a group by readings newer than its command: give it a few telemetry periods to get them
    measured_s = max(1.0, 4 * cabinet.power.telemetry_period_s)
    return MoveTiming(car_follow_s=matrix.car_follow_s, open_below_a=matrix.open_below_a,
                      close_within_v=matrix.close_within_v, contact_s=matrix.contact_timeout_s,
                      shutdown_s=cabinet.charging.power_down_timeout_s, ramp_down_s=measured_s, match_s=measured_s)


def coordinator_for(cabinet: CabinetConfig, plant: MovePlant, matrix: MatrixContacts, *,
                    clock: Callable[[], float], rating: ModuleRating | None = None) -> SharingCoordinator:
    m = cabinet.power.matrix
    return SharingCoordinator(group_ratings(cabinet, rating), plant, matrix, clock=clock, timing=move_timing(cabinet),
                              nevi_floor_w=m.nevi_floor_kw * 1000.0, hysteresis_w=m.hysteresis_kw * 1000.0)
