"""The record of one charging session, kept by its connector."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

_ids = itertools.count(1)


@dataclass
class SessionRecord:
    connector_id: int
    start_t: float
    evcc_id: str = ""
    session_id: str = field(default_factory=lambda: f"{next(_ids):016X}")
    end_t: float | None = None
    energy_wh: float = 0.0
    peak_w: float = 0.0
    stop_reason: str = ""
    fault_codes: list[str] = field(default_factory=list)
    energy_source: str = "modules"
    meter_start_wh: float | None = None
    module_energy_wh: float = 0.0

    def bracket_with_meter(self, start_wh: float) -> None:
        self.meter_start_wh = start_wh
        self.energy_source = "meter"

    def add_power(self, voltage_v: float, current_a: float, dt: float) -> None:
        """Module telemetry: kept always, the reported figure unless a meter brackets the session."""
        power = max(0.0, voltage_v * current_a)
        self.module_energy_wh += power * dt / 3600.0
        if self.meter_start_wh is None:
            self.energy_wh = self.module_energy_wh
        self.peak_w = max(self.peak_w, power)

    def meter_progress(self, reading_wh: float, power_w: float) -> None:
        self.energy_wh = max(0.0, reading_wh - self.meter_start_wh)
        self.peak_w = max(self.peak_w, power_w)

    def meter_lost(self) -> None:
        """No stop reading: fall back to the modules' telemetry, and say so."""
        self.energy_source = "modules_meter_lost"
        self.energy_wh = self.module_energy_wh

    def meter_stop(self, reading_wh: float) -> None:
        self.energy_wh = max(0.0, reading_wh - self.meter_start_wh)

    def to_json(self) -> dict:
        return {
            "session_id": self.session_id, "connector": self.connector_id, "evcc_id": self.evcc_id,
            "start_t": self.start_t, "end_t": self.end_t, "energy_kwh": round(self.energy_wh / 1000.0, 4),
            "peak_kw": round(self.peak_w / 1000.0, 2), "stop_reason": self.stop_reason,
            "fault_codes": list(self.fault_codes), "energy_source": self.energy_source,
            "meter_start_wh": self.meter_start_wh,
        }
