"""The signals of a DBC message as shifts and masks on the payload read as one integer.

The receive path decodes a few thousand frames a second; cantools' general decoder spends most of its time on
work that is the same for every frame of a message. A FrameLayout does that work once, when a driver loads:
it reads each signal's bit position off cantools' own encoder (so the DBC stays the single source of truth)
and then checks its decoder against cantools' on a spread of payloads. A message it cannot express (nested
multiplexers, odd float sizes) raises LayoutError and the caller keeps cantools.
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from typing import Any

from cantools.database.can import Message, Signal

from controller.formats.can.frame_rejected import FrameRejected

SELF_CHECK_PAYLOADS = 64


class LayoutError(ValueError):
    """The message cannot be decoded by shifts and masks (or the result differs from cantools)."""


@dataclass(frozen=True)
class Field:
    name: str
    big_endian: bool
    shift: int
    mask: int
    sign_bit: int  # 0 for unsigned integers
    float_format: str  # "" for integers, else the struct format of the raw bits
    scale: float
    offset: float
    identity: bool  # scale 1, offset 0: cantools hands back the raw integer
    minimum: float | None
    maximum: float | None
    choices: frozenset[int] | None

    def value(self, little: int, big: int) -> Any:
        raw = ((big if self.big_endian else little) >> self.shift) & self.mask
        if self.float_format:
            raw = struct.unpack(self.float_format, raw.to_bytes(struct.calcsize(self.float_format), "big"))[0]
        elif self.sign_bit and raw & self.sign_bit:
            raw -= self.sign_bit << 1
        return raw if self.identity else raw * self.scale + self.offset


class FrameLayout:
    def __init__(self, message: Message):
        self.message = message
        self.name = message.name
        self.length = message.length
        muxes = [s for s in message.signals if s.is_multiplexer]
        if len(muxes) > 1 or any(s.multiplexer_ids is not None and s.multiplexer_signal != muxes[0].name
                                 for s in message.signals if s.multiplexer_ids is not None and muxes):
            raise LayoutError(f"{message.name}: more than one multiplexer")
        self._mux_name = muxes[0].name if muxes else None
        self.fields = {s.name: self._field(s) for s in message.signals}
        self._plain = tuple(self.fields[s.name] for s in message.signals if s.multiplexer_ids is None)
        branches: dict[int, list[Field]] = {}
        for s in message.signals:
            for mux_id in s.multiplexer_ids or ():
                branches.setdefault(mux_id, []).append(self.fields[s.name])
        self._branches = {mux_id: tuple(fields) for mux_id, fields in branches.items()}
        self.limits = {f.name: (f.minimum, f.maximum) for f in self.fields.values()}
        # plain integer fields as bare tuples: the per-frame loop then makes no call per signal
        self._plain_steps = _steps(self._plain)
        self._branch_steps = {mux_id: _steps(fields) for mux_id, fields in self._branches.items()}
        self._self_check()

    # ---- reading a payload -----------------------------------------------------------------------------------
    def decode(self, data: bytes | bytearray) -> dict[str, Any]:
        """Every signal of the frame (the selected branch of a multiplexed one), as cantools decodes it with
        decode_choices=False. Raises FrameRejected for a wrong length or a multiplexer value not in the DBC."""
        if len(data) != self.length:
            raise FrameRejected(f"{self.name}: DLC {len(data)}, expected {self.length}")
        little = int.from_bytes(data, "little")
        big = int.from_bytes(data, "big")
        values = _read(self._plain_steps, little, big, {})
        if self._mux_name is not None:
            branch = self._branch_steps.get(values[self._mux_name])
            if branch is None:
                raise FrameRejected(f"{self.name}: multiplexer {self._mux_name} value {values[self._mux_name]} "
                                    "is not in the DBC")
            _read(branch, little, big, values)
        return values

    # ---- building the layout from cantools -----------------------------------------------------------------
    def _field(self, signal: Signal) -> Field:
        big_endian = signal.byte_order == "big_endian"
        if big_endian:
            # DBC numbers Motorola start bits from the field's most significant bit, bit 7 of a byte first
            msb_from_left = signal.start // 8 * 8 + 7 - signal.start % 8
            shift = self.length * 8 - msb_from_left - signal.length
        else:
            shift = signal.start
        if shift < 0 or shift + signal.length > self.length * 8:
            raise LayoutError(f"{self.name}.{signal.name}: outside the {self.length}-byte payload")
        float_format = ""
        if signal.is_float:
            formats = {32: ">f", 64: ">d"}
            if signal.length not in formats:
                raise LayoutError(f"{self.name}.{signal.name}: float of {signal.length} bits")
            float_format = formats[signal.length]
        identity = not signal.is_float and signal.scale == 1 and signal.offset == 0
        return Field(signal.name, big_endian, shift, (1 << signal.length) - 1,
                     1 << (signal.length - 1) if signal.is_signed and not signal.is_float else 0,
                     float_format, signal.scale, signal.offset, identity, signal.minimum, signal.maximum,
                     frozenset(signal.choices) if signal.choices else None)

    def _self_check(self) -> None:
        """Decode random payloads both ways; any difference means the layout is wrong."""
        rng = random.Random(self.message.frame_id)
        mux_ids = sorted(self._branches)
        for index in range(SELF_CHECK_PAYLOADS):
            data = bytearray(rng.getrandbits(8) for _ in range(self.length))
            if mux_ids:
                data = self._with_mux(data, mux_ids[index % len(mux_ids)])
            try:
                expected = self.message.decode(bytes(data), decode_choices=False)
            except Exception:  # noqa: BLE001 - cantools refuses some random payloads; nothing to compare
                continue
            got = self.decode(data)
            if got.keys() != expected.keys() or any(not _same(got[k], expected[k]) for k in got):
                raise LayoutError(f"{self.name}: layout decode differs from cantools for {bytes(data).hex()}")

    def _with_mux(self, data: bytearray, mux_id: int) -> bytearray:
        f = self.fields[self._mux_name]
        order = "big" if f.big_endian else "little"
        value = int.from_bytes(data, order) & ~(f.mask << f.shift) | (mux_id << f.shift)
        return bytearray(value.to_bytes(self.length, order))


_Step = tuple  # (name, big_endian, shift, mask, identity, scale, offset), or (name, Field) for the rest


def _steps(fields: tuple[Field, ...]) -> tuple[_Step, ...]:
    return tuple((f.name, f.big_endian, f.shift, f.mask, f.identity, f.scale, f.offset)
                 if not f.float_format and not f.sign_bit else (f.name, f) for f in fields)


def _read(steps: tuple[_Step, ...], little: int, big: int, values: dict[str, Any]) -> dict[str, Any]:
    for step in steps:
        if len(step) == 2:
            values[step[0]] = step[1].value(little, big)
            continue
        name, big_endian, shift, mask, identity, scale, offset = step
        raw = ((big if big_endian else little) >> shift) & mask
        values[name] = raw if identity else raw * scale + offset
    return values


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # both NaN
    return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(b))


_LAYOUTS: dict[int, tuple[Message, FrameLayout | None]] = {}


def layout_of(message: Message) -> FrameLayout | None:
    """The message's layout, built once per message object; None when only cantools can decode it."""
    entry = _LAYOUTS.get(id(message))
    if entry is None or entry[0] is not message:
        try:
            layout: FrameLayout | None = FrameLayout(message)
        except LayoutError:
            layout = None
        entry = _LAYOUTS[id(message)] = (message, layout)
    return entry[1]
