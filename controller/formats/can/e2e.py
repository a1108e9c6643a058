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
