"""The limits of one session: the car's (as negotiated) x the cable's (connector config) x what the power
modules can give now (their capabilities, derated by the safety supervisor). Read fresh on every call: a module
lost or a hot connector lowers them at once.

`external` is the operator's limit from outside the cabinet (OCPP smart charging: the composite schedule and
this EVSE's share of the station's maximum, controller/ocpp/smart_charging/desk.py): a callable giving
(power W, current A), read on every call like the rest; unlimited until something sets it.
"""
from __future__ import annotations

import math
from typing import Callable

from controller.formats.cabinet.config import ConnectorConfig
from controller.connector.ev_session import EvChargeParameters, EvseChargeParameters
from controller.connector.ports import ModuleGroupPort


def unlimited() -> tuple[float, float]:
    return math.inf, math.inf


class Limits:
    def __init__(self, cfg: ConnectorConfig, group: ModuleGroupPort, *,
                 derated_power_w: Callable[[], float], ev_parameters: Callable[[], EvChargeParameters | None]):
        self.cfg = cfg
        self.group = group
        self._derated_power_w = derated_power_w  # the supervisor's: temperatures, modules, measured power
        self._ev_parameters = ev_parameters
        self.external: Callable[[], tuple[float, float]] = unlimited  # (W, A) from outside: OCPP smart charging
        self.power_schedule: Callable[[], tuple[tuple[int, float], ...]] = tuple  # ISO-2's SAScheduleList from it

    def power_w(self) -> float:
        return min(self.own_power_w(), self.external()[0])

    def own_power_w(self) -> float:
        """The power limit without the external one: what this port could give (the station split's ceiling)."""
        limit = min(self.cfg.max_power_kw * 1000.0, self.group.capabilities.max_power_w)
        limit = min(limit, self._derated_power_w())
        ev = self._ev_parameters()
        if ev and ev.max_power_w:
            limit = min(limit, ev.max_power_w)
        return limit

    def own_current_a(self) -> float:
        ev = self._ev_parameters()
        limit = min(self.cfg.max_current_a, self.group.capabilities.max_current_a)
        return min(limit, ev.max_current_a) if ev else limit

    def voltage_v(self) -> float:
        limit = min(self.cfg.max_voltage_v, self.group.capabilities.max_voltage_v)
        ev = self._ev_parameters()
        if ev:
            limit = min(limit, ev.max_voltage_v)
        return limit

    def current_a(self, voltage_v: float) -> tuple[float, str]:
        """The allowed current and what limits it: min(EV, cable, group, power / voltage)."""
        candidates = [(self.cfg.max_current_a, "current"), (self.group.capabilities.max_current_a, "current")]
        ev = self._ev_parameters()
        if ev:
            candidates.append((ev.max_current_a, "ev"))
        candidates.append((self.external()[1], "current"))
        if voltage_v > 1.0:
            candidates.append((self.power_w() / voltage_v, "power"))
        return min(candidates)

    def evse_charge_parameters(self) -> EvseChargeParameters:
        """What the charger offers in ChargeParameterDiscovery (and repeats in CurrentDemand)."""
        caps = self.group.capabilities
        return EvseChargeParameters(
            max_voltage_v=min(self.cfg.max_voltage_v, caps.max_voltage_v),
            max_current_a=min(self.cfg.max_current_a, caps.max_current_a, self.external()[1]),
            max_power_w=self.power_w(),
            min_voltage_v=caps.min_voltage_v,
            min_current_a=0.0,
            current_regulation_tolerance_a=5.0,
            peak_current_ripple_a=5.0,
            power_schedule=self.power_schedule(),
        )
