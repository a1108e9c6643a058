"""End-to-end protection of a CAN payload in the style of AUTOSAR E2E profile 1.

The sender puts a CRC over (data id, payload) in byte 0 and an alive counter in the payload; the receiver
recomputes the CRC and checks that the counter moved on by a small step. The data id is never sent: a frame
that lands on the wrong identifier (or comes from a sender that means another one) fails the CRC.
CRC-8 SAE J1850: polynomial 0x1D, start value 0xFF, final XOR 0xFF (check value of "123456789": 0x4B).
"""
from __future__ import annotations

POLYNOMIAL = 0x1D
MAX_COUNTER_STEP = 2  # one lost frame is tolerated; a repeat (0) or a bigger jump is an error


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ POLYNOMIAL) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def crc8_sae_j1850(data: bytes | bytearray, start: int = 0xFF) -> int:
    crc = start
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc ^ 0xFF


def e2e_crc(data_id: int, payload_after_crc: bytes | bytearray) -> int:
    """The CRC of byte 0: over the 16-bit data id (low byte first) and bytes 1.. of the frame."""
    return crc8_sae_j1850(bytes((data_id & 0xFF, (data_id >> 8) & 0xFF)) + bytes(payload_after_crc))


def counter_step(previous: int | None, counter: int, modulo: int = 256) -> int | None:
    """How far the alive counter moved (None for the first frame)."""
    return None if previous is None else (counter - previous) % modulo


def counter_ok(previous: int | None, counter: int, modulo: int = 256) -> bool:
    step = counter_step(previous, counter, modulo)
    return step is None or 1 <= step <= MAX_COUNTER_STEP


class ProtectedEncoder:
    """Encodes a command frame whose byte 0 is the E2E CRC and one whole byte is the alive counter.

    A controller sends the same command values frame after frame with only the counter moving, so the
    schema-checked encode (cantools, strict) runs once per change of the values; each frame then only puts
    the counter in its byte and the CRC in byte 0. About a tenth of the CPU of encoding every frame twice."""

    def __init__(self, message, data_id: int, crc_signal: str = "Crc", counter_signal: str = "Counter"):
        self._message = message
        self._data_id = data_id
        self._crc_signal, self._counter_signal = crc_signal, counter_signal
        if _byte_of(message, crc_signal) != 0:
            raise ValueError(f"{message.name}: {crc_signal} must be the whole of byte 0")
        self._counter_byte = _byte_of(message, counter_signal)
        self._values: dict | None = None
        self._body = b""

    def encode(self, values: dict, counter: int) -> bytes:
        """The frame for `values` (every signal but the CRC and the counter) with `counter` and its CRC."""
        if values != self._values:
            self._body = self._message.encode({**values, self._crc_signal: 0, self._counter_signal: 0}, strict=True)
            self._values = dict(values)
        data = bytearray(self._body)
        data[self._counter_byte] = counter & 0xFF
        data[0] = e2e_crc(self._data_id, data[1:])
        return bytes(data)


def _byte_of(message, name: str) -> int:
    """The byte a signal fills whole (8 bits, byte aligned, unsigned, unscaled); ValueError otherwise."""
    signal = message.get_signal_by_name(name)
    if (signal.length != 8 or signal.start % 8 or signal.is_signed or signal.scale != 1 or signal.offset != 0
            or signal.byte_order != "little_endian"):
        raise ValueError(f"{message.name}: {name} does not fill one whole byte")
    return signal.start // 8
