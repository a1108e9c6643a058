"""The most corridor-hour can show: each car's charging time alone on its port, on both layouts.

Every car of the arrivals is charged from its start SoC to its target with the rig's own battery model
(hil/ev/battery.py, the car's charge curve, batteries scaled as on the rig) at the most its port allows: its
cable's current and power (the same on both layouts) and, on the static layout, the port's 150 kW. Nothing else:
no other car sharing the cabinet, no ramp, no hand-over, no negotiation. So the shared layout's times are a lower
bound and the ratio of the means is the best sharing could reach with these cars; adding the measured time before
energy and after it (`overhead_s`, the same on both layouts) shows what the real sessions can reach at best.

A car whose cable or curve keeps it at or below 150 kW (the 400 V cars on 350-400 A cables, the old 50 kW car)
charges as fast on the static layout: only the cars that can take more than 150 kW make the mean shorter.
"""
from __future__ import annotations

from typing import Any

from hil.ev.charge_curves import TIME_SCALE, car_model
from hil.setup import load_setup

STEP_S = 0.01  # rig seconds per integration step


def charging_s(model: str, cable_a: float, port_w: float, time_scale: float = TIME_SCALE) -> float:
    """Rig seconds from the car's start SoC to its target at min(its request, cable current, port power)."""
    car = car_model(model)
    battery = car.battery(time_scale=time_scale)
    elapsed = 0.0
    for _ in range(int(3600 / STEP_S)):  # bound: a rig hour
        if battery.soc_percent >= car.target_soc:
            return round(elapsed, 2)
        volts = battery.open_circuit_voltage()
        amps = min(battery.requested_current_a(), cable_a, port_w / volts)
        battery.absorb(amps, STEP_S)
        elapsed += STEP_S
    raise RuntimeError(f"{model} did not reach {car.target_soc} % within a rig hour")


def ceiling(arrivals: tuple[tuple[int, float, str], ...], overhead_s: float = 0.0) -> dict[str, Any]:
    """Per car and in the mean: charging time alone on the shared and on the static layout, and the ratio."""
    shared_cab = load_setup("nevi-shared").cabinet_config
    static_cab = load_setup("nevi").cabinet_config
    cars = []
    for port, _, model in arrivals:
        shared_port = next(c for c in shared_cab.connectors if c.id == port)
        static_port = next(c for c in static_cab.connectors if c.id == port)
        cars.append({"port": port, "model": model,
                     "shared_s": charging_s(model, shared_port.max_current_a, min(
                         shared_port.max_power_kw, shared_cab.max_cabinet_power_kw) * 1000.0),
                     "static_s": charging_s(model, static_port.max_current_a, static_port.max_power_kw * 1000.0)})
    shared = sum(c["shared_s"] + overhead_s for c in cars) / len(cars)
    static = sum(c["static_s"] + overhead_s for c in cars) / len(cars)
    return {"overhead_s": overhead_s, "mean_shared_s": round(shared, 2), "mean_static_s": round(static, 2),
            "best_ratio": round(shared / static, 3), "cars": cars}
