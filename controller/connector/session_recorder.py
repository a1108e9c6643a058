"""The record of one charging session: opened when the car sets a session up, bracketed by meter readings when
the connector has a meter, closed with its stop reason. The events it emits are the store's session rows."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from controller.connector.ports import MeterPort
from controller.connector.session import SessionRecord
from controller.formats.events import EventSink, SessionEnded, SessionStarted

log = logging.getLogger(__name__)


class SessionRecorder:
    def __init__(self, connector_id: int, *, wall_clock: Callable[[], float], meter: Callable[[], MeterPort | None],
                 emit: EventSink) -> None:
        self.connector_id = connector_id
        self.wall_clock = wall_clock
        self._meter = meter  # read at each use: the app attaches the meter after construction
        self._emit = emit
        self.session: SessionRecord | None = None
        self.last_session: SessionRecord | None = None

    def start(self, evcc_id: str) -> None:
        self.session = SessionRecord(connector_id=self.connector_id, start_t=self.wall_clock(), evcc_id=evcc_id)
        meter = self._meter()
        if meter is not None and meter.fresh:
            self.session.bracket_with_meter(meter.latest.energy_import_wh)
        self._emit(SessionStarted(**self.session.to_json()))

    def end(self, reason: str) -> bool:
        """Close the open session (False: there was none). With a meter, the stop reading comes first."""
        session = self.session
        if session is None:
            return False
        session.end_t = self.wall_clock()
        if not session.stop_reason:
            session.stop_reason = reason
        self.session = None
        self.last_session = session
        meter = self._meter()
        if session.meter_start_wh is not None and meter.fresh:
            asyncio.get_running_loop().create_task(self._close_with_meter(session, meter))
        else:
            if session.meter_start_wh is not None:  # the meter is gone: no stop reading to bracket with
                session.meter_lost()
            self._emit(SessionEnded(**session.to_json()))
        return True

    async def _close_with_meter(self, session: SessionRecord, meter: MeterPort) -> None:
        """The stop reading brackets the session: read the meter once more after the power is off."""
        try:
            reading = await meter.read()
        except Exception as exc:  # ModbusDeviceError and the like: fall back to the last good reading
            log.warning("connector %d: final meter reading failed: %s", self.connector_id, exc)
            reading = meter.latest if meter.fresh else None
        if reading is not None:
            session.meter_stop(reading.energy_import_wh)
        else:
            session.meter_lost()
        self._emit(SessionEnded(**session.to_json()))

    def meter_tick(self) -> None:
        meter = self._meter()
        if self.session is not None and self.session.meter_start_wh is not None and meter.fresh:
            self.session.meter_progress(meter.latest.energy_import_wh, meter.latest.power_w)

    def note_stop_reason(self, reason: str) -> None:
        if self.session is not None and not self.session.stop_reason:
            self.session.stop_reason = reason
