"""A matrix cabinet running: its module groups, the matrix board and the sharing coordinator, ticked from the
controller's control loop (issue #18).

Each connector drives a `PortGroups` (the groups its output has now) as its module group, so the connector code
is the same as in a static cabinet: the coordinator's limit reaches the car through the port's capabilities
(controller/connector/limits.py), in ChargeParameterDiscoveryRes and every CurrentDemandRes.

Every `period_s` (not on the CAN receive path) `tick()` builds each port's demand from its session (the car's
maximum power and current, its present request, SoC and voltage; the cable's limits and its temperature
derating from the connector's safety supervisor), lets the coordinator
decide and advance the moves, and hands groups found on an output, still and healthy, to that port (at start).

Faults of a module group go to the connector whose output the group is on; GROUP_LOST instead drops the group
from the allocation (the others carry on, the coordinator redistributes); a dropped group whose modules answer
healthy again for `return_hold_s` is offered again (group_return.py). The matrix board's faults go to every
connector: without the board the contacts' state is unknown.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from typing import Callable

from controller.connector.connector import LATE_TICK_S
from controller.formats.cabinet.config import CabinetConfig, ConfigError
from controller.hw.can_port import CanPort
from controller.hw.power.group import PowerModuleGroup
from controller.hw.power.matrix import PowerMatrix
from controller.power_sharing.allocator import PortDemand
from controller.power_sharing.cabinet_setup import coordinator_for, module_rating
from controller.power_sharing.group_return import GroupReturn
from controller.power_sharing.live_plant import RECEIVING_STATES, LiveMovePlant
from controller.power_sharing.port_groups import PortGroups

log = logging.getLogger(__name__)

READING_MAX_AGE_POLLS = 3  # a move judges a group by readings at most this many telemetry periods old
SHARING_PERIOD_S = 0.05  # the coordinator decides and advances moves this often (the control loop runs at 20 ms)
# a car in these states is on its port and may draw power (stopping, session_end, error_shutdown give their groups)
ACTIVE_STATES = RECEIVING_STATES


class SharedPower:
    def __init__(self, cabinet: CabinetConfig, port: Callable[[str], CanPort], *,
                 clock: Callable[[], float] = time.monotonic, period_s: float = SHARING_PERIOD_S):
        power, matrix = cabinet.power, cabinet.power.matrix
        rating = module_rating(cabinet)
        if rating is None:
            raise ConfigError("power.vendor", f"{power.vendor} modules report their rating at run time: a power "
                                              "matrix needs a vendor with a fixed rating")
        self.cabinet, self.clock, self.period_s = cabinet, clock, period_s
        self.module_groups: dict[str, PowerModuleGroup] = {
            g.name: PowerModuleGroup(port(power.can), power.vendor, g.addresses, index,
                                     keepalive_s=power.keepalive_s, telemetry_period_s=power.telemetry_period_s,
                                     silent_after_s=power.silent_after_s, clock=clock,
                                     on_fault=functools.partial(self._group_fault, g.name))
            for index, g in enumerate(power.groups)}
        self.ports = {c.id: PortGroups((rating.min_voltage_v, rating.max_voltage_v)) for c in cabinet.connectors}
        self.matrix = PowerMatrix(port(matrix.can), [g.name for g in power.groups],
                                  {link.group: link.outputs for link in matrix.links}, on_fault=self._matrix_fault,
                                  command_period_s=matrix.command_period_s, lost_after_s=matrix.lost_after_s,
                                  contact_timeout_s=matrix.contact_timeout_s, clock=clock)
        self.connectors: dict = {}  # connector id -> Connector, filled by the app as it builds them
        self.plant = LiveMovePlant(self.connectors, self.ports, self.module_groups,
                                   port_current_a=self._port_current_a, clock=clock,
                                   reading_max_age_s=READING_MAX_AGE_POLLS * power.telemetry_period_s)
        self.coordinator = coordinator_for(cabinet, self.plant, self.matrix, clock=clock, rating=rating)
        self.returns = GroupReturn(matrix.return_hold_s, clock=clock)  # a dropped group healthy again comes back
        self.site_limit_w = cabinet.max_cabinet_power_kw * 1000.0
        # the station-wide limit of the OCPP charging profiles (block K: the app sets the smart-charging desk's
        # station_limit_w here), read at every decision
        self.external_limit: Callable[[], float] = lambda: math.inf
        self._last_external_w = math.inf
        self._last_tick_t: float | None = None
        self._late_skipped = False  # the last tick followed a stall and judged no silence (never two in a row)
        self._fault_output: dict[tuple[str, str], int] = {}  # (group, code) -> the connector told it is active
        self.decision_s: list[float] = []  # the last decisions' durations (bench figure), bounded

    @property
    def external_limit_w(self) -> float:
        try:
            self._last_external_w = float(self.external_limit())
        except Exception:  # a profile that cannot be read: the last limit stays (never lifted, never a stop)
            log.exception("power sharing: the external limit could not be read; %.0f W stays", self._last_external_w)
        return self._last_external_w

    # ---- the control loop ---------------------------------------------------------------------------------
    def tick(self) -> bool:
        """Decide and advance the moves once `period_s` has passed; True when it did."""
        now = self.clock()
        if self._last_tick_t is not None and now - self._last_tick_t < self.period_s:
            return False
        late = self._last_tick_t is not None and now - self._last_tick_t > LATE_TICK_S
        self._last_tick_t = now
        if not self.matrix.online:
            # no feedback: nothing decided, no move started; a move whose contact is on its way ends safely. Not
            # judged on a tick after a stall: the board's statuses may still wait in the receive queue
            skip = self._late_skipped = late and not self._late_skipped
            if not skip:
                self.coordinator.board_silent()
            return False
        self._late_skipped = False
        for group in self.returns.due(self.coordinator.failed, healthy=self._may_return,
                                      emergency_latched=self._emergency_latched, where=self.matrix.closed_output):
            log.warning("power sharing: group %s healthy again for %.0f s: offered to the allocation again",
                        group, self.returns.hold_s)
            self.coordinator.group_returned(group)
        ports = [self.demand(cid, connector) for cid, connector in self.connectors.items()]
        self.plant.volts_for_limit = {p.output: p.voltage_v for p in ports}
        started = time.perf_counter()
        self.coordinator.tick(ports, self.site_limit_w, self.external_limit_w)
        self.decision_s = [*self.decision_s[-99:], time.perf_counter() - started]
        self._adopt_still_groups()
        return True

    def demand(self, output: int, connector) -> PortDemand:
        cfg = connector.cfg
        active = connector.state in ACTIVE_STATES and connector.enabled
        ev = connector.ev_parameters
        present = connector.present_voltage()
        if present > connector.charging.safe_voltage_v:
            volts = present
        else:  # no energy yet: the car's maximum stands for its voltage until it is measured
            volts = ev.max_voltage_v if ev is not None else cfg.max_voltage_v
        request = connector.demand.target_current_a if connector.state == "charging" and connector.demand else None
        return PortDemand(
            output=output, active=active, voltage_v=volts,
            cable_max_power_w=cfg.max_power_kw * 1000.0, cable_max_current_a=cfg.max_current_a,
            car_max_power_w=(ev.max_power_w or math.inf) if ev is not None else math.inf,
            car_max_current_a=ev.max_current_a if ev is not None else math.inf,
            request_current_a=request, soc_pct=connector.ev_soc,
            derating=connector.supervisor.connector_derating())  # a hot cable gets fewer groups

    def _adopt_still_groups(self) -> None:
        """A healthy group whose contact is closed on the output it is meant for, not moving and not yet under
        that port's control (found so at start), joins the port."""
        c = self.coordinator
        for name, group in self.module_groups.items():
            where = self.matrix.closed_output(name)
            if where not in self.ports or name in c.moves or name in c.failed or c.target_of(name) != where:
                continue
            if name not in self.ports[where].members:
                self.plant.hand_over(name, where)

    def _group_healthy(self, group: str) -> bool:
        """Every module of the group answers, without a fault."""
        caps = self.module_groups[group].capabilities
        return caps.total_count > 0 and caps.healthy_count == caps.total_count

    def _may_return(self, group: str) -> bool:
        """Healthy, no move of it still running, and its contact open as commanded (the board's feedback): a
        group comes back only from idle; one whose contact stays closed (welded) stays out."""
        return self._group_healthy(group) and group not in self.coordinator.moves \
            and self.matrix.closed_output(group) is None and self.matrix.settled(group)

    def _emergency_latched(self, output: int) -> bool:
        connector = self.connectors.get(output)
        return connector is not None and any(f.severity == "emergency" and f.spec.clears == "latched"
                                             for f in connector.active_faults.values())

    def _port_current_a(self, output: int) -> float:
        connector = self.connectors[output]
        return connector.measurements.current(self.clock())[0]

    # ---- what the console shows ---------------------------------------------------------------------------
    def groups_on(self, output: int) -> list[str]:
        return sorted(self.ports[output].members)

    def layout(self) -> dict[str, int | None]:
        """Each group's output as its contact reports it (None: open)."""
        return {name: self.matrix.closed_output(name) for name in self.module_groups}

    # ---- faults -------------------------------------------------------------------------------------------
    def _output_of(self, group: str) -> int | None:
        for output, port in self.ports.items():
            if group in port.members:
                return output
        where = self.matrix.closed_output(group)
        return where if where in self.ports else None

    def _group_fault(self, group: str, code: str, detail: str, active: bool) -> None:
        if code == "GROUP_LOST":
            if active:  # dropped: its port's other groups carry on, the next decision goes without it
                log.warning("power sharing: group %s lost (%s): dropped from the allocation", group, detail)
                self.coordinator.group_failed(group)
                output = self._output_of(group)
                self.returns.dropped(group, output)  # it may come back once healthy (group_return.py)
                if output is not None and group in self.ports[output].members:
                    self.ports[output].leave(group)
            return
        key = (group, code)
        if active:
            output = self._output_of(group)
            if output is None:
                log.warning("power sharing: group %s on no output: %s %s", group, code, detail)
                return
            self._fault_output[key] = output
        else:
            output = self._fault_output.pop(key, None)
            if output is None:
                return
        self.connectors[output].on_fault(code, detail, active)

    def _matrix_fault(self, code: str, detail: str, active: bool) -> None:
        for connector in self.connectors.values():
            connector.on_fault(code, detail, active)
