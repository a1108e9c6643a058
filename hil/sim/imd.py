"""Simulated insulation monitor (Bender isoCHA425HV register layout): insulation resistance from
plant.isolation_ohm, system voltage from the plant's cable voltage, the device's own R1/R2 alarms,
the fast cable-check mode and the self-test started by writing 0x5445 to 8005.

Self-test as modelled (see the map file): the test bits clear at the start, the resistance channel reads
"invalid" for `self_test_s`, then bit 6 (internal test done) is set; with `self_test_fails` the channel
shows alarm type "device error" instead, until a later test passes.
Insulation faults: set plant.isolation_ohm (also mid-charge); the simulator follows at the next request.
"""
from __future__ import annotations

import time
from typing import Callable

from controller.formats.modbus import load_model
from controller.formats.modbus import bender_channel as ch
from hil.plant import ConnectorPlant
from hil.sim.modbus_device import ModbusDeviceSim

RANGE_MAX_OHM = 50e6  # above this the device shows "value is higher" with the limit as the value


class ImdSim(ModbusDeviceSim):
    def __init__(self, plant: ConnectorPlant, model: str = "bender_isocha425hv", unit_id: int = 3,
                 self_test_s: float = 0.2, clock: Callable[[], float] = time.monotonic):
        found = load_model(model)
        if found.kind != "imd" or found.status_format != "bender_channel":
            raise ValueError(f"{model!r} is not an IMD map with Bender channel status")
        # the channel description codes, which the driver does not read
        self._code_registers = tuple(found.values[n].address + ch.CHANNEL_CODE_OFFSET
                                     for n in ("resistance_ohm", "system_voltage_v"))
        super().__init__(found, unit_id, extra_registers=self._code_registers)
        self.plant = plant
        self.clock = clock
        self.self_test_s = self_test_s
        self.self_test_fails = False  # fault injection: the next self-tests end in a device error
        self.prealarm_kohm = 600
        self.alarm_kohm = 100
        self.cable_check_mode = False
        self.self_tests_started = 0
        self.device_error = False
        self.reading_invalid = False  # fault injection: the resistance channel reads "invalid" (no valid value)
        self._test_bits = 0
        self._test_ends: float | None = None

    @property
    def testing(self) -> bool:
        self._settle_test()
        return self._test_ends is not None

    def write(self, address: int, value: int) -> bool:
        commands, settings = self.model.commands, self.model.settings
        if address == commands["self_test"].address:
            if value != commands["self_test"].value:
                return False
            self.self_tests_started += 1
            self._test_bits = 0
            self._test_ends = self.clock() + self.self_test_s
            return True
        if address == commands["cable_check_mode_on"].address:
            modes = {commands["cable_check_mode_on"].value: True, commands["cable_check_mode_off"].value: False}
            if value not in modes:
                return False
            self.cable_check_mode = modes[value]
            return True
        if address == settings["prealarm_kohm"].address:
            self.prealarm_kohm = value
            return True
        if address == settings["alarm_kohm"].address:
            self.alarm_kohm = value
            return True
        return False

    def registers(self) -> dict[int, int]:
        resistance, resistance_status, code = self._resistance_channel()
        voltage = self.plant.cable_voltage_v
        voltage_status = ch.ChannelStatus(test_bits=self._test_bits, unit=ch.UNIT_VOLT)
        regs = self.model.encode({"resistance_ohm": resistance, "system_voltage_v": voltage,
                                  "resistance_status": resistance_status.to_register(),
                                  "system_voltage_status": voltage_status.to_register()})
        regs[self._code_registers[0]] = code
        regs[self._code_registers[1]] = ch.CODE_VOLTAGE
        return regs

    def _resistance_channel(self) -> tuple[float, ch.ChannelStatus, int]:
        if self.testing or self.reading_invalid:
            return 0.0, ch.ChannelStatus(range=ch.RANGE_INVALID, unit=ch.UNIT_OHM), ch.CODE_TEMPORARILY_INACTIVE
        if self.device_error:
            status = ch.ChannelStatus(ch.ALARM_DEVICE_ERROR, self._test_bits, ch.RANGE_INVALID, ch.UNIT_OHM)
            return 0.0, status, ch.CODE_DEVICE_ERROR
        resistance = self.plant.measured_isolation_ohm
        alarm = ch.ALARM_NONE
        if resistance < self.alarm_kohm * 1000:
            alarm = ch.ALARM_ALARM
        elif resistance < self.prealarm_kohm * 1000:
            alarm = ch.ALARM_PREWARNING
        value_range = ch.RANGE_ACTUAL
        if resistance > RANGE_MAX_OHM:
            resistance, value_range = RANGE_MAX_OHM, ch.RANGE_HIGHER
        code = ch.CODE_INSULATION if alarm == ch.ALARM_NONE else ch.CODE_INSULATION_ALARM
        return resistance, ch.ChannelStatus(alarm, self._test_bits, value_range, ch.UNIT_OHM), code

    def _settle_test(self) -> None:
        if self._test_ends is not None and self.clock() >= self._test_ends:
            self._test_ends = None
            self._test_bits = ch.TEST_INTERNAL_DONE
            self.device_error = self.self_test_fails
