"""A session's record at its close: with a fresh meter the stop reading brackets it (read once more, after the
power is off), a failed read falls back to the last good reading, a meter gone stale says the energy came from
the modules; the times, the record kept as the last session and what the row says (issue 19's surviving mutants
of session_recorder.py and session.py)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from controller.connector.session_recorder import SessionRecorder
from controller.formats.events import SessionEnded, SessionStarted

pytestmark = pytest.mark.timeout(10)


class Meter:
    def __init__(self, start_wh: float, stop_wh: float | None, fresh: bool = True):
        self.fresh = fresh
        self.latest = SimpleNamespace(energy_import_wh=start_wh, power_w=0.0)
        self._stop_wh = stop_wh
        self.reads = 0

    async def read(self):
        self.reads += 1
        if self._stop_wh is None:
            raise OSError("no answer")
        return SimpleNamespace(energy_import_wh=self._stop_wh, power_w=0.0)


def run_session(meter: Meter, *, stale_at_end: bool = False, module_wh: float = 0.0):
    events: list = []
    clock = iter([100.0, 250.0])
    recorder = SessionRecorder(2, wall_clock=lambda: next(clock), meter=lambda: meter, emit=events.append)

    async def scenario():
        recorder.start("evcc-7")
        recorder.session.add_power(400.0, module_wh * 3600.0 / 400.0, 1.0)  # module_wh over one second
        meter.fresh = not stale_at_end
        assert recorder.end("ev_stop")
        await asyncio.sleep(0)  # the stop reading is read in its own task
        await asyncio.sleep(0)

    asyncio.run(scenario())
    return recorder, events


def test_a_fresh_meter_brackets_the_session_with_a_stop_reading_read_at_the_end():
    meter = Meter(10_000.0, 10_750.0)
    recorder, events = run_session(meter)
    assert meter.reads == 1
    assert [type(e) for e in events] == [SessionStarted, SessionEnded]
    ended = events[1]
    assert (ended.start_t, ended.end_t, ended.energy_kwh, ended.energy_source, ended.meter_start_wh) == (
        100.0, 250.0, 0.75, "meter", 10_000.0)
    assert (ended.connector, ended.evcc_id, ended.stop_reason) == (2, "evcc-7", "ev_stop")
    assert recorder.session is None and recorder.last_session.end_t == 250.0


def test_a_failed_stop_reading_falls_back_to_the_last_good_one():
    meter = Meter(10_000.0, None)
    meter.latest.energy_import_wh = 10_000.0
    recorder, events = run_session(meter)
    assert events[-1].energy_source == "meter" and events[-1].energy_kwh == 0.0


def test_a_meter_gone_stale_at_the_end_books_the_modules_energy_and_says_so():
    meter = Meter(10_000.0, 10_750.0)
    recorder, events = run_session(meter, stale_at_end=True, module_wh=500.0)
    assert meter.reads == 0
    assert (events[-1].energy_source, events[-1].energy_kwh) == ("modules_meter_lost", 0.5)


def test_the_peak_power_and_the_energy_are_given_to_their_decimals():
    meter = Meter(10_000.0, 10_750.0, fresh=False)  # no bracket: the modules' figures
    recorder, events = run_session(meter, module_wh=12.345)
    assert events[-1].energy_source == "modules"
    assert events[-1].peak_kw == 44.44  # 12.345 Wh in one second: 44.442 kW
    assert events[-1].energy_kwh == 0.0123  # to 0.1 Wh


def test_closing_without_an_open_session_says_so_and_emits_nothing():
    events: list = []
    recorder = SessionRecorder(2, wall_clock=lambda: 0.0, meter=lambda: None, emit=events.append)
    assert recorder.end("ev_stop") is False
    assert events == [] and recorder.last_session is None
