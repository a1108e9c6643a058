"""Names and decodes CAN frames for `cantrace`, through the project's DBC files.

I/O board frames (11-bit) carry the connector id in their low four bits: the DBC's base ID plus the id.
Power-module frames (29-bit) carry addresses inside the ID too, so a vendor frame is matched to the DBC
message whose ID agrees with it on the most leading bits (at least the top MIN_COMMON_BITS: the protocol,
device and command fields in both vendors' layouts); what does not fit or does not decode shows raw.
"""
from __future__ import annotations

import can

from controller.formats.can.codec import decode_for_display
from controller.formats.can.dbc import load_dbc
from controller.hw.power.registry import vendor_dbc

MIN_COMMON_BITS = 8
ID_BITS = 29


class FrameDecoder:
    def __init__(self, vendor: str):
        self._io = {m.frame_id: m for m in load_dbc("io_board").messages}
        dbc = vendor_dbc(vendor)
        self._vendor = list(load_dbc(dbc).messages) if dbc else []

    def describe(self, msg: can.Message) -> dict:
        """ID, data and, where a DBC message fits, its name and decoded signals."""
        frame = {"id": f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}",
                 "extended": msg.is_extended_id, "data": bytes(msg.data).hex(" "), "name": None, "signals": None}
        if msg.is_extended_id:
            message, label = self._vendor_message(msg.arbitration_id), None
        else:
            connector = msg.arbitration_id & 0xF
            message = self._io.get(msg.arbitration_id - connector) if connector else None
            label = f"c{connector}"
        if message is None:
            return frame
        values = decode_for_display(message, msg.data)
        if values is None:  # any decode problem: the frame stays raw
            return frame
        frame["name"] = message.name if label is None else f"{message.name} {label}"
        frame["signals"] = {k: (round(v, 3) if isinstance(v, float) else v if isinstance(v, int) else str(v))
                            for k, v in values.items()}
        return frame

    def _vendor_message(self, frame_id: int):
        best, best_common = None, MIN_COMMON_BITS - 1
        for message in self._vendor:
            common = ID_BITS - (message.frame_id ^ frame_id).bit_length()
            if common > best_common:
                best, best_common = message, common
        return best


def frame_text(t: float, port: str, frame: dict) -> str:
    head = f"{t:8.3f} {port:<8} {frame['id']:>8} [{frame['data']}]"
    if frame["name"] is None:
        return head
    signals = " ".join(f"{k}={v}" for k, v in frame["signals"].items() if k != "Reserved")
    return f"{head} {frame['name']} {signals}".rstrip()
