"""DC energy meter driver: voltage, current, power and import energy over Modbus, in any meter register map.

`await meter.run()` polls at the configured period and keeps `latest`; `fresh` says whether it can be
trusted for live power and billing. Faults through on_fault(code, detail, active):
  METER_LOST       no answer (timeout, link closed); cleared by the next good reading
  METER_BAD_REPLY  exception response or garbled reply; cleared by the next good reading
  METER_STALE      no good reading within stale_after_s, or a frozen meter: the energy register stands
                   still while the meter's own power readings add up to more than frozen_margin_wh
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from controller.faults import FaultListener
from controller.formats.cabinet.modbus_devices import MeterConfig
from controller.hw.modbus_device import PolledModbusDevice
from controller.hw.modbus_link import ModbusDeviceError, ModbusLink


@dataclass(frozen=True)
class MeterReading:
    voltage_v: float
    current_a: float
    power_w: float
    energy_import_wh: float
    t: float  # clock() when the reply came


class EnergyMeter(PolledModbusDevice):
    lost_code = "METER_LOST"
    bad_reply_code = "METER_BAD_REPLY"

    def __init__(self, cfg: MeterConfig, on_fault: FaultListener, clock: Callable[[], float] = time.monotonic,
                 link: ModbusLink | None = None):
        cfg.check()
        super().__init__(f"meter {cfg.model} unit {cfg.unit_id}", cfg.model, cfg.link, cfg.unit_id, cfg.timeout_s,
                         cfg.retries, cfg.poll_period_s, on_fault, clock, link)
        self.cfg = cfg
        self.latest: MeterReading | None = None
        self._unaccounted_wh = 0.0  # energy the power readings show since the energy register last moved
        self._frozen_detail = ""

    async def start(self) -> bool:
        """Open the link and take a first reading; False (with a fault raised) if the meter does not answer."""
        self.started_t = self.clock()
        try:
            await self.read()
        except ModbusDeviceError:
            return False
        return True

    async def read(self) -> MeterReading:
        """One reading now; raises ModbusDeviceError (and raises the matching fault) on failure."""
        try:
            values = await self._read_values()
        except ModbusDeviceError:
            self._judge_freshness()
            raise
        reading = MeterReading(values["voltage_v"], values["current_a"], values["power_w"],
                               values["energy_import_wh"], self.clock())
        self._track_frozen(reading)
        self.latest = reading
        self._judge_freshness()
        return reading

    @property
    def fresh(self) -> bool:
        return (self.latest is not None and not self._frozen_detail
                and self.clock() - self.latest.t <= self.cfg.stale_after_s)

    async def poll(self) -> None:
        try:
            await self.read()
        except ModbusDeviceError:
            pass  # raised as METER_LOST / METER_BAD_REPLY

    def _track_frozen(self, new: MeterReading) -> None:
        old = self.latest
        if old is None or new.energy_import_wh != old.energy_import_wh:
            self._unaccounted_wh = 0.0
            self._frozen_detail = ""
            return
        mean_power_w = max(0.0, (old.power_w + new.power_w) / 2)
        self._unaccounted_wh += mean_power_w * max(0.0, new.t - old.t) / 3600.0
        step = self.model.values["energy_import_wh"].resolution(new.energy_import_wh)
        if self._unaccounted_wh > self.cfg.frozen_margin_wh + step:
            self._frozen_detail = (f"energy register stuck at {new.energy_import_wh:.0f} Wh while the meter "
                                   f"reports {new.power_w:.0f} W ({self._unaccounted_wh:.0f} Wh not counted)")

    def _judge_freshness(self) -> None:
        if self.closed:
            return
        if self.fresh:
            self.faults.clear("METER_STALE")
        elif self._frozen_detail:
            self.faults.raise_("METER_STALE", self._frozen_detail)
        elif self.latest is not None:
            age = self.clock() - self.latest.t
            allowed = self.cfg.stale_after_s
            self.faults.raise_("METER_STALE", f"last good reading {age:.1f} s ago (allowed {allowed:g} s)")
        elif self.started_t is not None and self.clock() - self.started_t > self.cfg.stale_after_s:
            self.faults.raise_("METER_STALE", f"no reading since start {self.clock() - self.started_t:.1f} s ago")
