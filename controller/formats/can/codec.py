"""The one CAN frame codec: DBC decoding with the checks each kind of frame needs, named for what they check.

- decode_frame: length and a cantools decode, raw values, no range check (the rig's simulators add their own
  plausibility checks on top).
- decode_within_limits: every signal (but `Reserved`) finite and inside the DBC's [minimum, maximum]; the
  power modules' answers, where any value off the DBC means a garbled or foreign frame.
- decode_defined / decode_marking_bad: named values must be ones the DBC names, ranges widened by half a
  step (scaled values carry float noise); the I/O board's frames, where one bad field must not hide another.
- decode_for_display: values with the DBC's names for enumerations, None when the frame does not decode.

Each raises FrameRejected (a ValueError) for what it refuses; the fast path (frame_layout) is used where the
message allows it and gives the same values as cantools.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Protocol

from cantools.database.can import Message

from controller.formats.can.frame_layout import layout_of
from controller.formats.can.frame_rejected import FrameRejected

__all__ = ["FrameRejected", "decode_frame", "decode_within_limits", "decode_defined", "decode_marking_bad",
           "decode_for_display"]


class Frame(Protocol):
    """What the codec reads of a received frame (python-can's Message has it)."""
    data: bytes | bytearray


def decode_frame(message: Message, frame: Frame) -> dict[str, Any]:
    """Decode with cantools, turning a wrong length or an undecodable payload into FrameRejected."""
    if len(frame.data) != message.length:
        raise FrameRejected(f"{message.name}: DLC {len(frame.data)}, expected {message.length}")
    try:
        return message.decode(frame.data, decode_choices=False)
    except Exception as exc:  # cantools raises several kinds for a payload it cannot read
        raise FrameRejected(f"{message.name}: {exc}") from exc


def decode_within_limits(message: Message, frame: Frame) -> dict[str, Any]:
    """Decode, rejecting a wrong DLC and any value (but `Reserved`) not finite or outside the DBC's range."""
    layout = layout_of(message)
    if layout is None:
        values = decode_frame(message, frame)
        limits = {s.name: (s.minimum, s.maximum) for s in message.signals}
    else:
        values = layout.decode(frame.data)
        limits = layout.limits
    for name, value in values.items():
        if name == "Reserved":
            continue
        low, high = limits[name]
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            raise FrameRejected(f"{message.name}.{name} = {value} outside [{low}, {high}]")
    return values


def decode_defined(message: Message, frame: Frame) -> dict[str, Any]:
    """Decode, rejecting any signal outside its DBC range (half a step of slack) or without a named value."""
    values, bad = decode_marking_bad(message, frame)
    if bad:
        raise FrameRejected(f"{message.name}: {'; '.join(bad.values())}")
    return values


def decode_marking_bad(message: Message, frame: Frame) -> tuple[dict[str, Any], dict[str, str]]:
    """Decode and name (instead of raising for) each signal outside its DBC range or without a named value, so
    one bad field cannot hide the others. A wrong length still raises FrameRejected."""
    layout = layout_of(message)
    values = decode_frame(message, frame) if layout is None else layout.decode(frame.data)
    bad = {}
    for name, choices, low, high, minimum, maximum in _defined_checks(message):
        value = values[name]
        if choices and value not in choices:
            bad[name] = f"{name} value {value} is undefined"
        elif low is not None and value < low:
            bad[name] = f"{name} {value} below {minimum}"
        elif high is not None and value > high:
            bad[name] = f"{name} {value} above {maximum}"
    return values, bad


def decode_for_display(message: Message, data: bytes) -> dict[str, Any] | None:
    """Values with enumerations by their DBC names; None for a frame that does not decode (shown raw)."""
    try:
        return message.decode(bytes(data), decode_choices=True)
    except Exception:  # noqa: BLE001 - any decode problem: the caller shows the bytes instead
        return None


@functools.lru_cache(maxsize=None)
def _defined_checks(message: Message) -> tuple[tuple, ...]:
    """Per signal: name, named values, the DBC range widened by half a step (scaled values carry float noise,
    0.1 * 1000), and the DBC range itself for the reason."""
    return tuple((s.name, frozenset(s.choices) if s.choices else None,
                  None if s.minimum is None else s.minimum - abs(s.scale) / 2,
                  None if s.maximum is None else s.maximum + abs(s.scale) / 2,
                  s.minimum, s.maximum) for s in message.signals)
