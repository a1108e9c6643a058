"""The simulated car's traction battery: SoC, an open-circuit voltage curve, internal resistance, taper."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class BatteryModel:
    capacity_wh: float
    soc_percent: float
    ocv_empty_v: float
    ocv_full_v: float
    internal_resistance_ohm: float
    max_voltage_v: float
    max_current_a: float
    taper_start_percent: float = 80.0
    min_current_a: float = 5.0
    # a charge curve: the power the car asks for at a SoC (hil/ev/charge_curves.py); None: current and taper
    power_curve: Callable[[float], float] | None = None

    def open_circuit_voltage(self) -> float:
        # gently S-shaped: steep near empty and full, flat in the middle
        x = max(0.0, min(100.0, self.soc_percent)) / 100.0
        shape = 0.5 * x + 0.5 * (x ** 3) + 0.1 * (1 - (1 - x) ** 4) - 0.1 * x
        return self.ocv_empty_v + (self.ocv_full_v - self.ocv_empty_v) * shape

    def absorb(self, current_a: float, dt: float) -> None:
        wh = self.open_circuit_voltage() * current_a * dt / 3600.0
        self.soc_percent = min(100.0, self.soc_percent + 100.0 * wh / self.capacity_wh)

    def requested_current_a(self) -> float:
        """What the battery management asks for: its charge curve's power at this SoC (at the open-circuit
        voltage, within its maximum current), or full current and a linear taper towards 100 %."""
        if self.power_curve is not None:
            wanted = self.power_curve(self.soc_percent) / max(self.open_circuit_voltage(), 1.0)
            return max(self.min_current_a, min(self.max_current_a, wanted))
        if self.soc_percent < self.taper_start_percent:
            return self.max_current_a
        span = max(1e-6, 100.0 - self.taper_start_percent)
        fraction = max(0.0, (100.0 - self.soc_percent) / span)
        return max(self.min_current_a, self.max_current_a * fraction)
