"""The vendor driver interface: what a PowerModuleGroup needs from one vendor's wire protocol.

A driver only builds and reads frames (through its DBC); it keeps no state about modules and never sends.
The group owns timing, sharing, health and faults, so each vendor file stays short.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import can
from cantools.database.can import Message


Frame = tuple[int, bytes]  # (29-bit arbitration ID, payload)


@dataclass(frozen=True)
class ModuleRating:
    """Rated output of one module."""
    max_voltage_v: float
    min_voltage_v: float
    max_current_a: float
    max_power_w: float


@dataclass(frozen=True)
class ModuleAnswer:
    """What one answer frame says about one module; None = this answer does not carry it."""
    address: int
    voltage_v: float | None = None
    current_a: float | None = None
    temperature_c: float | None = None
    flags: frozenset[str] | None = None  # active status flags, named as in the DBC
    rating: ModuleRating | None = None


class PowerModuleDriver(ABC):
    """One vendor's protocol for the modules of one group."""

    name: str  # the vendor key a cabinet file names in power.vendor (the registry's key)
    dbc: str  # the DBC (dbc/<dbc>.dbc) the frames are built from; the rig's simulator names the same one
    fault_flags: frozenset[str]  # status flags that take a module out of the group
    overvoltage_flags: frozenset[str]  # status flags that mean output over-voltage (emergency)
    short_circuit_flags: frozenset[str] = frozenset()  # status flags that mean an output short (emergency)
    power_limited_flags: frozenset[str] = frozenset()  # the module limits its own power (derating)
    fixed_rating: ModuleRating | None = None  # None: the rating is read from the module

    def __init__(self, group_index: int):
        if not 0 <= group_index <= 15:
            raise ValueError(f"group index {group_index} out of range 0..15")
        self.group_index = group_index

    @abstractmethod
    def check_address(self, address: int) -> None:
        """Raise ValueError when `address` is not a valid module address for this vendor."""

    @abstractmethod
    def answer_filter(self, address: int) -> tuple[int, int]:
        """(value, mask) of the extended IDs of frames coming from module `address`."""

    @abstractmethod
    def decode_answer(self, address: int, msg: can.Message) -> ModuleAnswer | None:
        """Read one frame from the module; None for frames that are not answers. Raises FrameRejected."""

    @abstractmethod
    def output_frames(self, address: int, voltage_v: float, current_a: float) -> list[Frame]:
        """Frames that set the voltage reference and current limit of one module."""

    @abstractmethod
    def on_off_frame(self, address: int, on: bool) -> Frame:
        """The frame that switches one module's output on or off."""

    @abstractmethod
    def poll_frames(self, address: int, cycle: int) -> list[Frame]:
        """Read requests for telemetry period number `cycle` (slow values need not be read every cycle)."""

    def may_report_fault(self, msg: can.Message) -> bool:
        """True for answers that can carry a fault flag: in a batch of received frames they run first."""
        return True

    def rating_request(self, address: int) -> Frame | None:
        """A read request for the module's rating, or None when the rating is fixed by the model."""
        return None


def encode(message: Message, values: dict[str, Any]) -> bytes:
    """Encode with the DBC; signals left out of `values` (reserved fields, read requests) are sent as 0.

    For a multiplexed message only the signals of the selected branch are filled in.
    """
    names = {s.name for s in message.signals}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{message.name}: no signal named {sorted(unknown)}")
    full = dict(values)
    muxes = {s.name: values.get(s.name, 0) for s in message.signals if s.is_multiplexer}
    for signal in message.signals:
        if signal.name in full:
            continue
        if signal.multiplexer_ids is not None and muxes.get(signal.multiplexer_signal) not in signal.multiplexer_ids:
            continue
        full[signal.name] = 0
    try:
        return bytes(message.encode(full, strict=True))
    except Exception as exc:  # cantools raises EncodeError (and others) for out-of-range values
        raise ValueError(f"{message.name}: cannot encode {values}: {exc}") from exc
