"""The status register of a Bender ISOMETER measurement channel (status_format "bender_channel").

A channel is four registers: float32 value, status, channel description code. The status register's high
byte is the alarm/test byte (AT&T), its low byte the range/unit byte (R&U):
  AT&T bits 0-2 alarm type (0 none, 1 prewarning, 2 device error, 4 warning, 5 alarm),
       bit 6 internal test done, bit 7 external test done.
  R&U  bits 0-4 unit (2 ohm, 4 V), bits 6-7 range (0 actual value, 1 true value is lower,
       2 true value is higher, 3 invalid).
"""
from __future__ import annotations

from dataclasses import dataclass

ALARM_NONE = 0
ALARM_PREWARNING = 1
ALARM_DEVICE_ERROR = 2
ALARM_WARNING = 4
ALARM_ALARM = 5
TEST_INTERNAL_DONE = 0x40
TEST_EXTERNAL_DONE = 0x80
RANGE_ACTUAL = 0
RANGE_LOWER = 1
RANGE_HIGHER = 2
RANGE_INVALID = 3
UNIT_OHM = 2
UNIT_VOLT = 4
# channel description codes
CODE_INSULATION_ALARM = 1
CODE_INSULATION = 71
CODE_VOLTAGE = 76
CODE_DEVICE_ERROR = 115
CODE_TEMPORARILY_INACTIVE = 1020
CHANNEL_CODE_OFFSET = 3  # from a channel's first register: float32 value, status, then the description code


@dataclass(frozen=True)
class ChannelStatus:
    alarm_type: int = ALARM_NONE
    test_bits: int = 0
    range: int = RANGE_ACTUAL
    unit: int = 0

    @classmethod
    def from_register(cls, reg: int) -> ChannelStatus:
        att, ru = reg >> 8, reg & 0xFF
        return cls(alarm_type=att & 0x07, test_bits=att & 0xC0, range=ru >> 6, unit=ru & 0x1F)

    def to_register(self) -> int:
        att = (self.alarm_type & 0x07) | (self.test_bits & 0xC0)
        ru = ((self.range & 0x03) << 6) | (self.unit & 0x1F)
        return att << 8 | ru

    @property
    def valid(self) -> bool:
        return self.range != RANGE_INVALID

    @property
    def test_done(self) -> bool:
        return bool(self.test_bits)

    @property
    def device_error(self) -> bool:
        return self.alarm_type == ALARM_DEVICE_ERROR

    @property
    def prewarning(self) -> bool:
        return self.alarm_type == ALARM_PREWARNING

    @property
    def alarm(self) -> bool:
        return self.alarm_type in (ALARM_WARNING, ALARM_ALARM)
