"""What the power sharing did during a run on a matrix cabinet: sampled from the rig's side (each output's
power and the cars' plug-in times) and, with the controller in the rig's process, from its sharing (each port's
available power, the groups on it, the site budget). The report's `sharing` section.

Figures:
- `fourth_car_to_floor_s`: from the last car's plug-in until every port with a car has at least the NEVI floor
  available (the port's limit the controller gives its car): 150 kW, or all its car and cable can take if that
  is less; None if it never did;
- `cabinet_peak_kw` / `over_site_limit_s`: the sum of the outputs' power, and how long it stayed above the site
  limit by more than 2 % (issue #18: never more than 1 s);
- `lone_peak_kw`: the highest power of any one port.
"""
from __future__ import annotations

import asyncio
import time

SAMPLE_PERIOD_S = 0.05
NEVI_FLOOR_W = 150_000.0
SITE_TOLERANCE = 0.02


class SharingWatch:
    def __init__(self, run, period_s: float = SAMPLE_PERIOD_S):
        self.run, self.period_s = run, period_s
        self.samples: list[dict] = []
        self.plugged_t: dict[int, float] = {}

    def _sharing(self):
        app = getattr(self.run.controller, "app", None)
        return getattr(app, "sharing", None)

    def note_plugged(self, cid: int) -> None:
        self.plugged_t[cid] = time.monotonic()

    def sample(self) -> None:
        plants = self.run.rig.plants
        row = {"t": time.monotonic(), "power_w": {cid: p.cable_voltage_v * p.output_current_a
                                                  for cid, p in plants.items()}}
        sharing = self._sharing()
        if sharing is not None:
            row["available_w"] = {cid: port.capabilities.max_power_w for cid, port in sharing.ports.items()}
            row["groups"] = {cid: len(port.members) for cid, port in sharing.ports.items()}
            demands = {cid: sharing.demand(cid, c) for cid, c in sharing.connectors.items()}
            row["active"] = [cid for cid, d in demands.items() if d.active]
            # the floor of a port whose car or cable takes less than 150 kW is what they take
            row["floor_w"] = {cid: min(NEVI_FLOOR_W, d.could_take_w()) for cid, d in demands.items()}
            row["budget_w"] = min(sharing.site_limit_w, sharing.external_limit_w)
        self.samples.append(row)

    async def follow(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.period_s)

    def report(self, site_limit_w: float) -> dict:
        sums = [(s["t"], sum(s["power_w"].values())) for s in self.samples]
        over_since, worst_over = None, 0.0
        for t, watts in sums:
            if watts > site_limit_w * (1 + SITE_TOLERANCE):
                over_since = t if over_since is None else over_since
                worst_over = max(worst_over, t - over_since)
            else:
                over_since = None
        ports = {cid for s in self.samples for cid in s["power_w"]}
        sharing = self._sharing()
        decisions = sharing.decision_s if sharing is not None else []
        failed_moves = [f"{m.group} {m.donor}->{m.receiver}: {m.reason}" for m in sharing.coordinator.finished
                        if m.reason] if sharing is not None else []
        return {
            "cabinet_peak_kw": round(max((w for _, w in sums), default=0.0) / 1000.0, 1),
            "over_site_limit_s": round(worst_over, 3),
            "port_peak_kw": {cid: round(max(s["power_w"].get(cid, 0.0) for s in self.samples) / 1000.0, 1)
                             for cid in sorted(ports)} if self.samples else {},
            "fourth_car_to_floor_s": self._to_floor_s(),
            "decision_ms_max": round(max(decisions, default=0.0) * 1000.0, 3),
            "moves": len(sharing.coordinator.finished) if sharing is not None else 0,
            "failed_moves": failed_moves[:20],  # each drops its group from the allocation
            # dropped groups offered again once healthy (controller/power_sharing/group_return.py), and those out
            "returned_groups": [g for g, _ in sharing.returns.returned] if sharing is not None else [],
            "dropped_groups": sorted(sharing.coordinator.failed) if sharing is not None else [],
            "plugged_s": {cid: round(t - self.samples[0]["t"], 2) for cid, t in self.plugged_t.items()}
            if self.samples else {},
        }

    def _to_floor_s(self) -> float | None:
        if len(self.plugged_t) < 2 or not self.samples or "available_w" not in self.samples[0]:
            return None
        last_cid = max(self.plugged_t, key=self.plugged_t.get)
        last_t = self.plugged_t[last_cid]
        for s in self.samples:
            if s["t"] < last_t or last_cid not in s["active"]:
                continue
            if all(s["available_w"][cid] >= s["floor_w"][cid] - 1.0 for cid in s["active"]):
                return round(s["t"] - last_t, 3)
        return None
