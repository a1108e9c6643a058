"""The station's websocket link to the CSMS: connect with back-off through the network profiles, BootNotification
until Accepted, then send what waits (triggered messages, reports, certificate requests, the status changes and
the queued messages in their order, heartbeats) until the link drops. The state it keeps (accepted, state, the
statuses still to send) lives on the OcppService, which the rest of the station reads.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import OCPPError
from ocpp.v201 import call
from websockets.exceptions import InvalidHandshake, InvalidURI

from controller.ocpp.link import backoff_delays, open_link
from controller.ocpp.protocol import StationProtocol
from controller.ocpp.transactions import timestamp
from controller.ocpp.triggered_meter import triggered_meter_values

log = logging.getLogger(__name__)


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` s. Not asyncio.wait_for: on 3.11 it can swallow a cancellation that
    lands as the event fires, and a loop around it would then never end."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


class StationLink:
    def __init__(self, station: Any):
        """`station`: the OcppService whose link this is."""
        self.station = station

    async def run(self) -> None:
        st = self.station
        delays = backoff_delays(st.cfg, st._rng)
        while True:
            st.state = "connecting"
            st.connect_attempts += 1
            link = st.network.link_config()  # the network profile in turn
            try:
                tls = st.security.tls_context(link.security_profile) if link.security_profile >= 2 else None
                ws = await open_link(link, st.station_id, st._password, tls)
            except Exception as exc:  # refused, unreachable, TLS, or anything else: the link task never dies
                st.state = "disconnected"
                st.security_events.link_failed(exc)
                st.network.failed()
                st.security.link_failed(link.security_profile, exc)
                wait = next(delays)
                if not isinstance(exc, (OSError, InvalidHandshake, InvalidURI, asyncio.TimeoutError)):
                    log.exception("OCPP: unexpected failure connecting to the CSMS")
                log.warning("OCPP: cannot reach the CSMS (%s); next attempt in %.1f s", exc, wait)
                await asyncio.sleep(wait)
                continue
            delays = backoff_delays(st.cfg, st._rng)
            st.security_events.link_up()
            st.network.connected()
            st.security.link_up(link.security_profile)  # a new certificate confirmed; one ending soon renewed
            protocol = StationProtocol(st.station_id, ws, st, st.cfg.response_timeout_s, self.note_frame,
                                       st._sender.answered)
            st._protocol = protocol
            reader = asyncio.create_task(protocol.start(), name="ocpp-read")
            worker = asyncio.create_task(self._online(protocol), name="ocpp-online")
            try:
                done, _ = await asyncio.wait({reader, worker}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.warning("OCPP link ended: %r", task.exception())
            finally:
                st.accepted = False
                st._protocol = None
                st.state = "disconnected"
                for task in (reader, worker):
                    task.cancel()
                await asyncio.gather(reader, worker, return_exceptions=True)
                await ws.close()
            await asyncio.sleep(next(delays))

    def note_frame(self, direction: str, text: str) -> None:
        st = self.station
        st.frames.note(direction, text, st.clock())
        if direction == "in" and st.frames.entries[-1].action == "unreadable":  # not OCPP-J at all
            st.security_events.note("InvalidMessages", repr(text)[:100])

    async def _online(self, protocol: StationProtocol) -> None:
        st = self.station
        st.state = "booting"
        interval = await self._boot(protocol)
        st.accepted, st.state = True, "accepted"
        st.boot_reason = "PowerUp"
        st.device_model.set_heartbeat(interval)
        now = st.clock()  # after a (re)connect the CSMS learns every connector's present status
        st._statuses = [(cid, st.reservations.status(c), now, 0) for cid, c in st.connectors.items()]
        st._noted = {cid: status for cid, status, _, _ in st._statuses}
        next_heartbeat = time.monotonic() + interval
        while True:
            st._wake.clear()  # before the work: a wake-up during it is kept for the next turn
            if st.network.switch_due():
                return  # a new network profile priority: the link closes and connects with it
            await self._send_triggered(protocol)
            await st.provisioning.send_reports(lambda payload: self.call(protocol, payload), st.clock())
            await st.security.send_requests(lambda payload: self.call(protocol, payload))
            while await self._send_next(protocol):
                pass
            if time.monotonic() >= next_heartbeat:
                await self.call(protocol, call.Heartbeat())
                next_heartbeat = time.monotonic() + st.device_model.number("OCPPCommCtrlr", "HeartbeatInterval")
            wake_at = min(next_heartbeat, st._sender.ready_at())  # a held retry wakes the worker too
            await wait_event(st._wake, max(0.0, wake_at - time.monotonic()))

    async def _boot(self, protocol: StationProtocol) -> float:
        """BootNotification until Accepted; nothing else is sent before (B02/B03: Pending, Rejected wait)."""
        st = self.station
        while True:
            answer = await self.call(protocol, call.BootNotification(
                charging_station={"model": st.cfg.model, "vendorName": st.cfg.vendor,
                                  "firmwareVersion": st._firmware},
                reason=st.boot_reason))
            if answer is None:  # a CALLERROR: try again later, still nothing else
                await asyncio.sleep(st.cfg.heartbeat_default_s)
                continue
            interval = float(answer.interval) if answer.interval > 0 else st.cfg.heartbeat_default_s
            st.boot_status = answer.status
            if answer.status == "Accepted":
                return interval
            log.info("OCPP: BootNotification %s; again in %.0f s", answer.status, interval)
            st.state = f"boot {answer.status.lower()}"
            await asyncio.sleep(interval)

    async def call(self, protocol: StationProtocol, payload: Any) -> Any:
        """One CALL; a CALLERROR answer is logged and returned as None (the CSMS did answer)."""
        try:
            return await protocol.call(payload, suppress=False)
        except OCPPError as error:
            log.warning("OCPP: %s answered with CALLERROR %s", type(payload).__name__, error)
            return None

    async def _send_status(self, protocol: StationProtocol, evse_id: int, status: str, t: float) -> None:
        await self.call(protocol, call.StatusNotification(
            timestamp=timestamp(t), connector_status=status, evse_id=evse_id, connector_id=1))

    async def _send_triggered(self, protocol: StationProtocol) -> None:
        st = self.station
        while st._triggered:
            message, evse_id = st._triggered.pop(0)
            if message == "Heartbeat":
                await self.call(protocol, call.Heartbeat())
            elif message == "StatusNotification":
                for cid, connector in st.connectors.items():
                    if evse_id is None or cid == evse_id:
                        await self._send_status(protocol, cid, st.reservations.status(connector), st.clock())
            elif message == "TransactionEvent":
                now = st.clock()
                for evse, tx in list(st.transactions.items()):
                    if evse_id is None or evse == evse_id:
                        st._enqueue(tx.event("Updated", "Trigger", now,
                                               meter=st._meter(st.connectors[evse], tx, now, "Trigger")), tx)
            elif message == "MeterValues":  # controller/ocpp/triggered_meter.py
                for payload in triggered_meter_values(st, evse_id):
                    await self.call(protocol, call.MeterValues(**camel_to_snake_case(payload)))
            # BootNotification: only accepted before Accepted, when _boot sends it anyway

    async def _send_next(self, protocol: StationProtocol) -> bool:
        """Send whichever came first: the oldest status change or the oldest queued message; False when
        nothing is left. A queued message leaves the queue only once the CSMS answered it."""
        st = self.station
        message = st.queue.first()
        if st._statuses and (message is None or message.id > st._statuses[0][3]):
            evse_id, status, t, _ = st._statuses.pop(0)
            await self._send_status(protocol, evse_id, status, t)
            return True
        if message is None or not st._sender.ready(message.id):
            return False
        answer = await st._sender.send(protocol, message)  # queue_sender.py: removal, retries, drops
        if message.action == "TransactionEvent" and answer is not None:  # idTokenInfo: into the cache (E05)
            st.tariff_cost.answered(message.payload, answer)  # the transaction's price, the CSMS's total
            if st.authorization.transaction_answered(message.payload, answer) not in (None, "Accepted"):
                st.invalid_id.rejected(message.payload["transactionInfo"]["transactionId"])  # invalid_id.py
        return True
