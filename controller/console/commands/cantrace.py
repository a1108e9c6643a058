"""cantrace: live CAN frames, decoded through the DBCs, for a few seconds.

The bus taps only append to a bounded queue (they run in the CAN receive path); every PRINT_PERIOD_S the
command decodes and prints a random pick of what arrived. Output is bounded three ways: at most
MAX_SECONDS, MAX_LINES_PER_S lines a second (115200 baud carries about 100 lines a second) and MAX_FRAMES
in all; the summary counts what was skipped for these limits and what the queue lost. A JSON answer
holds the frames shown, in one line at the end.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import deque
import can

from controller.console.frame_decoder import FrameDecoder, frame_text
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply

MAX_SECONDS = 60.0
MAX_LINES_PER_S = 30
MAX_FRAMES = 1000
QUEUE_LIMIT = 2000
PRINT_PERIOD_S = 0.1
MAX_DECODES_PER_PERIOD = 50  # keeps each print pass to about a millisecond of the event loop
LINES_PER_PERIOD = int(MAX_LINES_PER_S * PRINT_PERIOD_S)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_SECONDS:
        raise CommandError(f"SECONDS must be a number above 0 and at most {MAX_SECONDS:g}, got {text[:20]!r}")
    return seconds


class FrameQueue:
    """Frames from every port in one bounded queue; `on_frame` runs in the CAN receive path."""

    def __init__(self) -> None:
        self.queue: deque[tuple[float, str, can.Message]] = deque()
        self.seen = 0
        self.lost = 0

    def on_frame(self, port: str, msg: can.Message) -> None:
        self.seen += 1
        if len(self.queue) >= QUEUE_LIMIT:
            self.lost += 1
        else:
            self.queue.append((time.monotonic(), port, msg))


def _pick(batch: list, decoder: FrameDecoder, wanted: str | None, room: int) -> tuple[list, int]:
    """Up to `room` frames of the batch that pass the filter, drawn at random so that no kind of frame is
    starved by the bus's own rhythm; and how many frames were skipped for the limits."""
    sample = batch if len(batch) <= MAX_DECODES_PER_PERIOD else \
        [batch[i] for i in sorted(random.sample(range(len(batch)), MAX_DECODES_PER_PERIOD))]
    matches = []
    for t, port, msg in sample:
        frame = decoder.describe(msg)
        if wanted is None or wanted in frame["id"].lower() or wanted in (frame["name"] or "").lower():
            matches.append((t, port, frame))
    chosen = matches if len(matches) <= room else \
        [matches[i] for i in sorted(random.sample(range(len(matches)), max(0, room)))]
    return chosen, len(batch) - len(sample) + len(matches) - len(chosen)


async def cantrace(ctx: CommandContext, args: list[str]) -> Reply:
    if not 1 <= len(args) <= 2:
        raise CommandError("usage: cantrace SECONDS [FILTER]")
    seconds = _seconds(args[0])
    wanted = args[1].lower() if len(args) > 1 else None
    decoder = FrameDecoder(ctx.cabinet.config.power.vendor)
    shown: list[dict] = []
    not_shown = 0
    start = time.monotonic()
    tap = FrameQueue()
    with ctx.cabinet.can_tap(tap.on_frame):
        end = start + seconds
        while True:
            now = time.monotonic()
            batch = list(tap.queue)
            tap.queue.clear()
            room = min(LINES_PER_PERIOD, MAX_FRAMES - len(shown))
            chosen, skipped = _pick(batch, decoder, wanted, room)
            not_shown += skipped
            for t, port, frame in chosen:
                frame = {"t": round(t - start, 4), "port": port, **frame}
                shown.append(frame)
                if not ctx.json_mode:
                    ctx.write_line(frame_text(frame["t"], port, frame))
            if now >= end:
                break
            await asyncio.sleep(min(PRINT_PERIOD_S, end - now))
        seen, lost = tap.seen, tap.lost
    summary = {"seconds": seconds, "filter": wanted, "seen": seen, "shown": len(shown), "not_shown": not_shown,
               "lost": lost}
    text = (f"{seen} frames in {seconds:g} s: {len(shown)} shown, {not_shown} not shown (rate limit),"
            f" {lost} lost (queue full)")
    return Reply(text, {**summary, "frames": shown})


def register(registry: CommandRegistry) -> None:
    registry.add(Command("cantrace", cantrace, "live CAN frames, decoded, for a few seconds",
                         "cantrace SECONDS [FILTER]",
                         f"At most {MAX_SECONDS:g} s, {MAX_LINES_PER_S} lines a second and {MAX_FRAMES} frames."
                         " FILTER keeps frames whose hex ID or message name contains it. Ctrl-C ends it early.",
                         role="technician"))
