"""How much of the power-module CAN bus the controller's own traffic takes, from the config, before start.

Steady state per module: the telemetry reads every `telemetry_period_s` and the keep-alive (the setpoint
frames and the on/off frame again) every `keepalive_s`, each answered by the module; plus the I/O boards of
connectors whose I/O channel is the same bus (command every 50 ms, status and DC measure every 20 ms,
temperatures at 1 Hz: dbc/io_board.dbc). A bus loaded past about 70 % delays the
frames that report faults and loses answers under the arbitration of a busy cabinet, so a config that asks
for more is refused with what it would take. Ramps add setpoint frames for a few seconds on top; that
headroom is why the limit is not higher.
"""
from __future__ import annotations

from collections.abc import Sequence

from controller.hw.power.base import PowerModuleDriver

MAX_LOAD = 0.70
# An extended-ID data frame with 8 bytes: 131 bits plus stuff bits (about 10 %) plus the 3-bit interframe space.
BITS_PER_FRAME = 150
_CYCLES = 60  # averages drivers that read slow values every few cycles
IO_STATUS_PERIOD_S = 0.02  # the I/O board's status and DC measure frames
_SETPOINT = (500.0, 10.0)  # any in-range values: only the number of frames matters


def frames_per_second(driver: PowerModuleDriver, addresses: Sequence[int], *, keepalive_s: float,
                      telemetry_period_s: float) -> float:
    """Requests and answers per second for the modules at `addresses` in steady state."""
    total = 0.0
    for address in addresses:
        reads = sum(len(driver.poll_frames(address, cycle)) for cycle in range(_CYCLES)) / _CYCLES
        keepalive = len(driver.output_frames(address, *_SETPOINT)) + 1  # and the on/off frame
        total += 2 * (reads / telemetry_period_s + keepalive / keepalive_s)  # every request is answered
    return total


def io_board_frames_per_second(command_period_s: float) -> float:
    """One connector's I/O board traffic: its commands, and its status, DC measure and temperature frames."""
    return 1.0 / command_period_s + 2 / IO_STATUS_PERIOD_S + 1.0



def load_fraction(frames_per_s: float, bitrate: int) -> float:
    return frames_per_s * BITS_PER_FRAME / bitrate


def describe_overload(frames_per_s: float, bitrate: int, modules: int) -> str | None:
    """None when the bus has room; otherwise why not, and what to change."""
    load = load_fraction(frames_per_s, bitrate)
    if load <= MAX_LOAD:
        return None
    return (f"{modules} modules need about {frames_per_s:.0f} frames/s, {load:.0%} of a {bitrate // 1000} kbit/s "
            f"bus (at most {MAX_LOAD:.0%}); poll less often (power.telemetry_period_s), send the keep-alive "
            "less often (power.keepalive_s) or use a faster bus")
