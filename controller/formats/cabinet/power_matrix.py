"""The cabinet file's power matrix: module groups that contactors connect to any permitted output.

A cabinet without `[power.matrix]` keeps the static layout (each connector names its one group). With a
matrix, connectors name no group: the `links` say which outputs each group's contactors can reach, and the
allocator (controller/power_sharing/) decides at run time which group serves which output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.formats.cabinet.loader import ConfigError

MAX_MATRIX_GROUPS = 12  # Group1Output..Group12Output in dbc/power_matrix.dbc
MAX_MATRIX_OUTPUT = 14  # output numbers 1..14 (15 is the board's "more than one closed")


@dataclass(frozen=True)
class MatrixLinkConfig:
    group: str  # a [[power.groups]] name
    outputs: tuple[int, ...]  # connector ids this group's contactors can connect it to


@dataclass(frozen=True)
class MatrixConfig:
    """The matrix board (dbc/power_matrix.dbc) and which group may reach which output."""
    links: tuple[MatrixLinkConfig, ...]  # one entry per group, in the board's group order (Group1 first)
    can: str = "io"  # the [can.*] channel of the matrix board
    command_period_s: float = 0.05  # a command frame goes to the board this often
    lost_after_s: float = 0.3  # no status frame from the board this long: MATRIX_BOARD_LOST
    contact_timeout_s: float = 0.2  # a contact's feedback must follow its command within this
    open_below_a: float = 1.0  # a matrix contact opens or closes only with less current than this through it
    close_within_v: float = 20.0  # ... and less voltage than this across it
    nevi_floor_kw: float = 150.0  # every active port whose car can take it gets at least this much (NEVI)
    hysteresis_kw: float = 10.0  # a port short of its share by less than this takes no group (no flapping)
    car_follow_s: float = 1.5  # a car told a lower limit must follow it within this, or the port is stopped
    return_hold_s: float = 10.0  # a dropped group is offered again once its modules have answered healthy this long


def check_matrix(cabinet: Any) -> None:
    """Cross-field rules of a matrix cabinet; raises ConfigError naming the key."""
    matrix = cabinet.power.matrix
    groups = [g.name for g in cabinet.power.groups]
    outputs = {c.id for c in cabinet.connectors}
    if matrix is None:
        for i, conn in enumerate(cabinet.connectors):
            if not conn.group:
                raise ConfigError(f"connectors[{i}].group", "missing: without a [power.matrix] every connector "
                                  "names its module group")
        return
    if matrix.can not in cabinet.can:
        raise ConfigError("power.matrix.can", f"no [can.{matrix.can}] channel")
    if len(groups) > MAX_MATRIX_GROUPS:
        raise ConfigError("power.groups", f"{len(groups)} groups: a matrix board drives at most {MAX_MATRIX_GROUPS}")
    for i, conn in enumerate(cabinet.connectors):
        if conn.group:
            raise ConfigError(f"connectors[{i}].group", "leave it out: with a [power.matrix] the allocator "
                              "chooses the groups (power.matrix.links)")
        if conn.id > MAX_MATRIX_OUTPUT:
            raise ConfigError(f"connectors[{i}].id", f"a matrix output is 1..{MAX_MATRIX_OUTPUT}")
    linked = [link.group for link in matrix.links]
    if linked != groups:
        missing = [g for g in groups if g not in linked]
        what = f"group {missing[0]!r} has no link" if missing else "list every group once, in [[power.groups]] order"
        raise ConfigError("power.matrix.links", what)
    reachable: set[int] = set()
    for i, link in enumerate(matrix.links):
        key = f"power.matrix.links[{i}].outputs"
        if not link.outputs:
            raise ConfigError(key, f"group {link.group!r} reaches no output")
        if len(set(link.outputs)) != len(link.outputs):
            raise ConfigError(key, "an output is listed twice")
        unknown = sorted(set(link.outputs) - outputs)
        if unknown:
            raise ConfigError(key, f"no connector with id {unknown[0]}")
        reachable |= set(link.outputs)
    unserved = sorted(outputs - reachable)
    if unserved:
        raise ConfigError("power.matrix.links", f"no group reaches connector {unserved[0]}")
    if cabinet.max_cabinet_power_kw <= 0:
        raise ConfigError("max_cabinet_power_kw", "a matrix cabinet needs its site limit (the grid connection)")
    for i, conn in enumerate(cabinet.connectors):
        if conn.max_power_kw > cabinet.max_cabinet_power_kw + 1e-9:
            raise ConfigError(f"connectors[{i}].max_power_kw", f"{conn.max_power_kw:g} kW is above the cabinet's "
                              f"{cabinet.max_cabinet_power_kw:g} kW")


def groups_reaching(cabinet: Any, output: int) -> list[str]:
    """The groups whose contactors can connect them to connector `output` (static layout: its own group)."""
    matrix = cabinet.power.matrix
    if matrix is None:
        return [c.group for c in cabinet.connectors if c.id == output]
    return [link.group for link in matrix.links if output in link.outputs]
