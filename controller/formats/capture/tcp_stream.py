"""One direction of a TCP connection put back in order from captured segments.

Sequence numbers are taken modulo 2**32 relative to the next expected byte, so wrap-around is harmless.
Retransmitted bytes are delivered once; a segment made only of old bytes is reported as a duplicate (with
its stream range, so a dissector can mark what it repeated). Segments that arrive early wait until the gap
before them is filled; if the capture lost a segment for good, the stream skips the gap once too much is
waiting, and says how many bytes it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

_SEQUENCE_SPACE = 1 << 32
MAX_PENDING_BYTES = 256 * 1024


@dataclass(frozen=True)
class StreamUpdate:
    """What one segment changed: `data` is new in-order bytes starting at stream offset `offset`."""

    offset: int
    data: bytes = b""
    duplicate: tuple[int, int] | None = None  # stream range [start, end) the segment only repeated
    skipped: int = 0  # bytes lost before `offset` (capture dropped a segment)


class TcpStream:
    """Reassembles the byte stream of one direction. Offsets count payload bytes from the first one seen."""

    def __init__(self, max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self._next_sequence: int | None = None
        self._delivered = 0
        self._pending: dict[int, bytes] = {}
        self._pending_bytes = 0
        self._max_pending = max_pending_bytes

    @property
    def delivered(self) -> int:
        """Stream offset of the next byte expected."""
        return self._delivered

    def syn(self, sequence: int) -> None:
        """A SYN fixes the initial sequence number; the SYN itself uses one number."""
        if self._next_sequence is None:
            self._next_sequence = (sequence + 1) % _SEQUENCE_SPACE

    def add(self, sequence: int, payload: bytes) -> StreamUpdate:
        if self._next_sequence is None:
            self._next_sequence = sequence
        if not payload:
            return StreamUpdate(self._delivered)
        delta = (sequence - self._next_sequence) % _SEQUENCE_SPACE
        if delta >= _SEQUENCE_SPACE // 2:
            delta -= _SEQUENCE_SPACE
        start = self._delivered + delta
        end = start + len(payload)
        if end <= self._delivered:
            return StreamUpdate(self._delivered, duplicate=(start, end))
        if start > self._delivered:
            self._keep_pending(start, payload)
            return self._skip_gap_if_full()
        return self._deliver(payload[self._delivered - start:], skipped=0)

    def _keep_pending(self, start: int, payload: bytes) -> None:
        previous = self._pending.get(start, b"")
        if len(payload) > len(previous):
            self._pending[start] = payload
            self._pending_bytes += len(payload) - len(previous)

    def _skip_gap_if_full(self) -> StreamUpdate:
        if self._pending_bytes <= self._max_pending:
            return StreamUpdate(self._delivered)
        first = min(self._pending)
        skipped = first - self._delivered
        self._advance(skipped)
        return self._deliver(b"", skipped)

    def _deliver(self, data: bytes, skipped: int) -> StreamUpdate:
        offset = self._delivered
        chunks = [data]
        self._advance(len(data))
        while self._pending:
            start = min(self._pending)
            if start > self._delivered:
                break
            segment = self._pending.pop(start)
            self._pending_bytes -= len(segment)
            fresh = segment[self._delivered - start:]
            chunks.append(fresh)
            self._advance(len(fresh))
        return StreamUpdate(offset, b"".join(chunks), skipped=skipped)

    def _advance(self, count: int) -> None:
        self._delivered += count
        assert self._next_sequence is not None
        self._next_sequence = (self._next_sequence + count) % _SEQUENCE_SPACE
