"""The SECC of one connector: its link layer (SLAC, SDP, V2GTP) and a SeccSession per connection.

The station follows the connector through its "phase" events: entering `plugged` (CP B, 5 % PWM) starts
SLAC with a new key; `available` or `unavailable` (unplugged, disabled) ends SLAC and the session. A
connection that ends without SessionStop while the connector is still in a session records EV_TIMEOUT, so
the connector stops through its error path (power down, contactors open).
"""
from __future__ import annotations

import logging
import ssl
from dataclasses import replace

from controller.connector.ports import EvSession
from controller.connector.table import SESSION_STATES
from controller.formats.events import Event, EventSink, PhaseChanged, SeccListening, SlacState, V2gClosed
from controller.v2g.secc.answer_times import AnswerTimes
from controller.v2g.secc.session import SeccSession, SeccSettings
from controller.v2g.secc_link import SeccLink, SeccLinkSockets
from controller.v2g.slac import SlacTimers
from controller.v2g.v2gtp_server import SEQUENCE_TIMEOUT_S, Exchange, V2gtpConnection

log = logging.getLogger(__name__)


class SeccStation:
    def __init__(self, connector: EvSession, sockets: SeccLinkSockets, settings: SeccSettings, *,
                 on_event: EventSink | None = None, slac_timers: SlacTimers = SlacTimers(),
                 sequence_timeout_s: float = SEQUENCE_TIMEOUT_S, tls_context: ssl.SSLContext | None = None):
        self.connector = connector
        self.settings = settings
        self._emit = on_event or (lambda event: None)
        self.session: SeccSession | None = None
        self._sessions: dict[int, tuple[SeccSession, AnswerTimes]] = {}
        self.link = SeccLink(sockets, self._new_session, slac_timers=slac_timers, idle_timeout_s=sequence_timeout_s,
                             on_close=self._closed, on_exchange=self._answered, on_slac_state=self._slac_state,
                             name=f"secc-{connector.cfg.id}", tls_context=tls_context)

    @property
    def id(self) -> int:
        return self.connector.cfg.id

    @property
    def sdp_port(self) -> int:
        return self.link.sdp.port

    async def start(self) -> None:
        await self.link.start()
        self._emit(SeccListening(self.id, self.link.sockets.address, self.sdp_port, self.link.v2gtp.port))

    async def close(self) -> None:
        await self.link.close()

    async def add_tls(self, tls_context: ssl.SSLContext, contracts) -> None:
        """A SECC leaf signed while running: TLS and Plug & Charge (`contracts`: a ContractValidator) for the
        sessions that start from the next SDP request; a running session keeps its settings."""
        await self.link.add_tls(tls_context)
        self.settings = replace(self.settings, contracts=contracts)

    def on_connector_event(self, event: Event) -> None:
        """An event sink: follow this connector's phases (synchronous, inside its state-entry actions)."""
        match event:
            case PhaseChanged(connector=self.id, state="plugged"):
                self.link.plugged()
            case PhaseChanged(connector=self.id, state="available" | "unavailable"):
                self.link.unplugged()

    def _new_session(self, connection: V2gtpConnection) -> SeccSession:
        session = SeccSession(connection, self.connector, self.settings, on_note=self._emit)
        self._sessions[id(connection)] = (session, AnswerTimes())
        self.session = session
        return session

    def _answered(self, connection: V2gtpConnection, exchange: Exchange) -> None:
        session, times = self._sessions.get(id(connection), (None, None))
        if session is not None and session.answering and exchange.answer_s is not None:
            times.add(session.answering, exchange.answer_s)

    def _closed(self, connection: V2gtpConnection, reason: str) -> None:
        session, times = self._sessions.pop(id(connection), (None, None))
        if session is not None:
            session.closed()
        if times is None:
            self._emit(V2gClosed(self.id, reason))
        else:
            self._emit(V2gClosed(self.id, reason, answer_times=times.summary(), answer_us=times.samples_us()))
        ended_by_car = session is not None and session.stopped
        if self.connector.state in SESSION_STATES and not ended_by_car and not self.connector.blocking_faults():
            self.connector.raise_fault("EV_TIMEOUT", f"V2G connection ended: {reason}")

    def _slac_state(self, state: str, detail: str) -> None:
        self._emit(SlacState(self.id, state, detail))
        if state == "failed":  # the connector decides: CP F and a new try, or give up
            self.connector.restart_communication(f"SLAC failed: {detail}")
