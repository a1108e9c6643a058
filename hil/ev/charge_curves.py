"""Cars with realistic DC charge curves for the power-sharing scenarios (issue #18).

Each model is a voltage class (the battery's open-circuit voltage from empty to full), the most current and
voltage its battery management accepts, and its charge curve: the power it asks for versus SoC, with the taper
real cars show (a plateau, then falling towards full). The curves are round figures of the published shapes of
each class, not any one car's measurements:

- `800v-350kw`: 800 V class, up to 350 kW (500 A), plateau to ~50 %, about 150 kW at 80 %;
- `400v-250kw`: 400 V class, up to 250 kW (650 A), falls from 40 %;
- `400v-150kw`: 400 V class, up to 150 kW (400 A);
- `old-50kw`: an early car, 50 kW (125 A) to 80 %, then a short taper.

The battery is scaled down by TIME_SCALE (one real minute becomes one second) so a session takes seconds while
the power stays real: the charger, the cable and the sharing see real currents and voltages.
"""
from __future__ import annotations

from dataclasses import dataclass

from hil.ev.battery import BatteryModel

TIME_SCALE = 60.0  # a real minute of charging takes a second on the rig


@dataclass(frozen=True)
class CarModel:
    name: str
    capacity_kwh: float  # the real usable capacity; the rig's battery is this / TIME_SCALE
    ocv_empty_v: float
    ocv_full_v: float
    max_voltage_v: float
    max_current_a: float
    internal_resistance_ohm: float
    curve_kw: tuple[tuple[float, float], ...]  # (SoC %, kW asked for), SoC rising; linear in between
    start_soc: float = 10.0
    target_soc: float = 80.0

    def power_w(self, soc_percent: float) -> float:
        """What the car asks for at this SoC, from its curve (flat beyond its ends)."""
        points = self.curve_kw
        if soc_percent <= points[0][0]:
            return points[0][1] * 1000.0
        for (s0, p0), (s1, p1) in zip(points, points[1:]):
            if soc_percent <= s1:
                return (p0 + (p1 - p0) * (soc_percent - s0) / (s1 - s0)) * 1000.0
        return points[-1][1] * 1000.0

    def battery(self, soc: float | None = None, time_scale: float = TIME_SCALE) -> BatteryModel:
        return BatteryModel(
            capacity_wh=self.capacity_kwh * 1000.0 / time_scale, soc_percent=self.start_soc if soc is None else soc,
            ocv_empty_v=self.ocv_empty_v, ocv_full_v=self.ocv_full_v,
            internal_resistance_ohm=self.internal_resistance_ohm, max_voltage_v=self.max_voltage_v,
            max_current_a=self.max_current_a, power_curve=self.power_w)


CAR_MODELS: dict[str, CarModel] = {m.name: m for m in (
    CarModel("800v-350kw", capacity_kwh=84.0, ocv_empty_v=600.0, ocv_full_v=800.0, max_voltage_v=830.0,
             max_current_a=500.0, internal_resistance_ohm=0.08,
             curve_kw=((0, 300), (10, 350), (50, 330), (65, 240), (80, 150), (90, 80), (100, 20))),
    CarModel("400v-250kw", capacity_kwh=75.0, ocv_empty_v=320.0, ocv_full_v=410.0, max_voltage_v=420.0,
             max_current_a=650.0, internal_resistance_ohm=0.03,
             curve_kw=((0, 220), (10, 250), (40, 230), (60, 160), (80, 90), (90, 50), (100, 15))),
    CarModel("400v-150kw", capacity_kwh=64.0, ocv_empty_v=320.0, ocv_full_v=410.0, max_voltage_v=420.0,
             max_current_a=400.0, internal_resistance_ohm=0.04,
             curve_kw=((0, 130), (10, 150), (45, 140), (65, 100), (80, 60), (90, 35), (100, 10))),
    CarModel("old-50kw", capacity_kwh=30.0, ocv_empty_v=300.0, ocv_full_v=400.0, max_voltage_v=410.0,
             max_current_a=125.0, internal_resistance_ohm=0.06,
             curve_kw=((0, 45), (10, 50), (80, 45), (90, 25), (100, 8))),
)}


def car_model(name: str) -> CarModel:
    try:
        return CAR_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown car model {name!r} (known: {', '.join(CAR_MODELS)})") from None
