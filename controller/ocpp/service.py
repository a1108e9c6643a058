"""The OCPP service: the station's link to the CSMS, online and offline (OCPP 2.0.1 blocks B, E, F, G).

Like the SECC and the console it never touches hardware: it reads connector state, listens to the app's
events and asks connectors through their public methods (authorize, request_stop). Charging never waits
for the CSMS: every TransactionEvent goes into the queue (on disk with a store) first and out when a link
is up, in order; those made while no link was accepted carry offline=true.

Each connector is one EVSE (evseId = the connector's id) with one connector (connectorId 1). NACS: OCPP
2.0.1 has no NACS connector type (2.1 adds cNACS); nothing in this slice reports a connector type, and the
device model, when it comes, reports NACS cables as cTesla, the plug's name in 2.0.1's list.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Callable

from ocpp.exceptions import OCPPError

from controller.formats.events import Event, FaultCleared, FaultRaised, PhaseChanged
from controller.formats.cabinet.config import OcppConfig
from controller.pricing.price_book import PriceBook
from controller.ocpp.aligned_meter import ClockAlignedMeter
from controller.ocpp.availability import Availability
from controller.ocpp.auth_settings import AuthSettings
from controller.ocpp.authorization import Authorization
from controller.ocpp.device_data import limit_error, watch_clock
from controller.ocpp.device_model import DeviceModel
from controller.ocpp.ev_certificates import EvCertificateRelay
from controller.ocpp.fault_events import FaultEvents
from controller.ocpp.get_log import LogUploads
from controller.ocpp.monitoring import VariableMonitors
from controller.ocpp.firmware import FirmwareUpdates
from controller.ocpp.frame_log import FrameLog
from controller.ocpp.identification import Identification
from controller.ocpp.invalid_id import InvalidIdLimits
from controller.ocpp.link import read_password, tls_context
from controller.ocpp.network_profiles import NetworkProfiles
from controller.ocpp.protocol import StationProtocol
from controller.ocpp.provisioning import Provisioning
from controller.ocpp.reservation_desk import ReservationDesk
from controller.ocpp.reset import StationReset, boot_reason
from controller.ocpp.tariff_cost import TariffCost, tariff_variables
from controller.ocpp.smart_charging.desk import SmartChargingDesk
from controller.ocpp.unlock import unlock_connector
from controller.ocpp.queue_sender import QueueSender
from controller.ocpp.open_transactions import OpenTransactions
from controller.ocpp.transactions import Transaction, meter_value
from controller.ocpp.tx_follower import TransactionFollower, session_of
from controller.store.ocpp_auth import AuthStore
from controller.store.ocpp_firmware import FirmwareStore
from controller.ocpp.security import StationSecurity
from controller.ocpp.station_link import StationLink
from controller.ocpp.security_events import SecurityEvents
from controller.store.ocpp_monitors import MonitorStore
from controller.store.ocpp_network import NetworkStore
from controller.store.ocpp_profiles import ProfileStore
from controller.store.ocpp_queue import OcppQueue
from controller.store.ocpp_reservations import ReservationStore
from controller.store.ocpp_station_state import StationStateStore
from controller.store.ocpp_variables import VariableStore

log = logging.getLogger(__name__)

WAITING_FOR_AUTH = ("plugged", "negotiating", "authorizing")
REMOTE_START_WAIT_S = 60.0  # EVConnectionTimeOut: a remote start before the plug-in waits this long


def connector_status(connector: Any) -> str:
    if connector.blocking_faults() or connector.state == "emergency":
        return "Faulted"
    if connector.state == "available":
        return "Available"
    if connector.state == "unavailable":
        return "Unavailable"
    return "Occupied"


class OcppService:
    def __init__(self, cfg: OcppConfig, station_id: str, connectors: list, *, queue: OcppQueue | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 firmware_version: str = "0.1.0", variables: VariableStore | None = None,
                 reservations: ReservationStore | None = None,
                 station_state: StationStateStore | None = None, restart: Callable[[], None] | None = None,
                 auth_store: AuthStore | None = None, autocharge: bool = False,
                 network: NetworkStore | None = None, prices: PriceBook | None = None,
                 monitors: MonitorStore | None = None, firmware: FirmwareStore | None = None,
                 profiles: ProfileStore | None = None):
        self.station_id = station_id
        self.connectors = {c.cfg.id: c for c in connectors}
        self.device_model = DeviceModel(cfg, station_id, {cid: c.cfg.type for cid, c in self.connectors.items()},
                                        self._availability, variables,
                                        tuple(tariff_variables(prices.config)) if prices else ())
        self.tariff_cost = TariffCost(self.device_model, prices)  # block I: controller/ocpp/tariff_cost.py
        self.cfg = self.device_model.effective_config(cfg)  # what the CSMS set before this start is in force
        watch_clock(self.device_model, clock)  # ClockCtrlr.DateTime
        self.queue = queue if queue is not None else OcppQueue()  # an empty queue is falsy
        self.clock = clock
        self._rng = rng or random.Random()
        self._firmware = firmware_version
        self._password = read_password(cfg)
        if cfg.security_profile >= 2:
            tls_context(cfg)  # the configured files are checked at start: a wrong one stops it (exit 2)
        self._open = OpenTransactions(self.queue)
        comm = "OCPPCommCtrlr"
        self._sender = QueueSender(self.queue, lambda: self.device_model.number(comm, "MessageAttempts", "TransactionEvent"),
                                   lambda: self.device_model.number(comm, "MessageAttemptInterval", "TransactionEvent"))
        self.transactions: dict[int, Transaction] = self._open.by_evse
        self._follower = TransactionFollower(self.transactions, self.device_model, self.clock, self._enqueue,
                                             self._meter)
        self.station_state = station_state if station_state is not None else StationStateStore()
        self.availability = Availability(self.connectors, self.station_state, lambda evse: evse in self.transactions)
        self.station_reset = StationReset(self.station_state, restart)  # `restart`: the app's (None: Reset refused)
        self.fault_events = FaultEvents(int(clock() * 10) % 2_000_000_000)  # NotifyEvent per fault raised/cleared
        # the token an authorization named (a console's bare string matches any type) and its groupIdToken, until
        # the event that carries it ends the reservation they used
        self._reservation_tokens: dict[int, tuple[dict | str, dict | None]] = {}
        self._pending_start: dict[int, tuple[dict, int, float]] = {}  # evse -> (idToken, remoteStartId, until)
        self._noted: dict[int, str] = {}  # the status last seen per connector
        # StatusNotifications still to send, in order: (evse, status, time, the queue's last id then)
        self._statuses: list[tuple[int, str, float, int]] = []
        self.accepted = False  # a link is up and BootNotification was Accepted
        self.state = "disconnected"
        self._wake = asyncio.Event()
        self._triggered: list[tuple[str, int | None]] = []
        self.provisioning = Provisioning(self.device_model, self._wake.set)
        self.security_events = SecurityEvents(self.queue, self.clock, self._wake.set)
        self.security = StationSecurity(self.cfg, station_id, self.device_model, self._wake.set,
                                        self.security_events.note)
        self.firmware_updates = FirmwareUpdates(self.cfg.firmware, firmware, self, clock, self._wake.set, restart,
                                                firmware_version)  # block L: controller/ocpp/firmware/
        self._firmware = self.firmware_updates.running_version()  # the version file's, when configured
        self.network = NetworkProfiles(self.cfg, network, self.device_model, missing_for=self.security.missing_for,
                                       notify=self.security_events.note, wake=self._wake.set)
        self.security.needs_csms_root = self.network.needs_tls  # the last CSMS root stays while a link needs it
        self.ev_certificates = EvCertificateRelay(self.call_now)  # Get15118EVCertificate for the SECCs
        self._tasks: list[asyncio.Task] = []
        self.boot_reason = boot_reason(self.station_state)  # RemoteReset once after a Reset
        self.boot_reason = self.firmware_updates.boot_reason or self.boot_reason  # FirmwareUpdate after an install
        self.frames = FrameLog()  # the last frames by action, for the console
        self.boot_status: str | None = None  # the last BootNotification answer
        self.connect_attempts = 0
        self.reservations = ReservationDesk(self, reservations, connector_status)  # block H
        self.aligned = ClockAlignedMeter(self)  # block J: controller/ocpp/aligned_meter.py
        self.smart_charging = SmartChargingDesk(self, profiles)  # block K: controller/ocpp/smart_charging/
        self._open.recover(self.connectors, self.clock())  # the transactions open at the last stop
        self.link = StationLink(self)  # the websocket to the CSMS: controller/ocpp/station_link.py
        self._protocol: StationProtocol | None = None  # the link's, while one is up (Authorize goes out at once)
        # block C: controller/ocpp/authorization.py decides, identification.py binds tokens to connectors
        self.authorization = Authorization(AuthSettings(self.device_model), auth_store or AuthStore(),
                                           send=self.call_now, online=lambda: self.accepted, clock=clock)
        self.identification = Identification(self.authorization, self.connectors, self.transactions, self._enqueue,
                                             may_use=self.may_use,
                                             autocharge=autocharge, wall_clock=clock)
        self.diagnostics: Callable[[], Any] | None = None  # the app's ArchiveSources (controller/diagnostics/)
        self.log_uploads = LogUploads(self._enqueue_message, lambda: self.diagnostics() if self.diagnostics else None)
        self.monitors = VariableMonitors(  # SetVariableMonitoring, NotifyEvent: controller/ocpp/monitoring.py
            self.connectors, monitors, lambda payload: self._enqueue_message("NotifyEvent", payload), clock,
            self.fault_events.take_id, lambda evse: getattr(self.transactions.get(evse), "transaction_id", None),
            enabled=lambda: self.device_model.text("MonitoringCtrlr", "Enabled") == "true",
            report=lambda payload: self._enqueue_message("NotifyMonitoringReport", payload))
        self.device_model.live.update(self.monitors.live_values())
        self.invalid_id = InvalidIdLimits(self.transactions, self.connectors, self.device_model,  # E05
                                          self.identification.deauthorize, self._enqueue, clock)

    # ---- life cycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.security_events.note("StartupOfTheDevice")
        self._tasks = [asyncio.create_task(self.link.run(), name="ocpp-link"),
                       asyncio.create_task(self._sample_meters(), name="ocpp-meter"),
                       asyncio.create_task(self.reservations.run(), name="ocpp-reservations"),
                       asyncio.create_task(self.aligned.run(), name="ocpp-aligned-meter"),
                       asyncio.create_task(self.monitors.run(), name="ocpp-monitoring"),
                       asyncio.create_task(self.firmware_updates.run(), name="ocpp-firmware"),
                       asyncio.create_task(self.invalid_id.run(), name="ocpp-invalid-id"),
                       asyncio.create_task(self.smart_charging.run(), name="ocpp-smart-charging")]

    async def close(self) -> None:
        self.identification.close()
        await self.log_uploads.close()  # GetLog: controller/ocpp/get_log.py
        # cancelled again while any runs on: ocpp's call() waits with asyncio.wait_for, which on 3.11 can
        # swallow a cancellation that lands as the answer arrives
        for _ in range(20):
            running = [task for task in self._tasks if not task.done()]
            if not running:
                break
            for task in running:
                task.cancel()
            await asyncio.wait(running, timeout=0.5)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # ---- app events (subscribed with app.subscribe) -----------------------------------------------------
    def on_event(self, event: Event) -> None:
        self.security_events.on_event(event)  # a login at the console
        if not isinstance(event, (PhaseChanged, FaultRaised, FaultCleared)):
            return
        if isinstance(event, (FaultRaised, FaultCleared)):
            self._notify_fault(event)
        connector = self.connectors.get(event.connector)
        if connector is None:
            return
        if not self.station_reset.holds(connector.cfg.id):  # a Reset ended its transaction: none starts meanwhile
            self._follow(connector)
        self.station_reset.note_idle(set(self.transactions))  # an OnIdle Reset may have waited for this
        self._start_resets()
        self.availability.follow(connector)  # ChangeAvailability: controller/ocpp/availability.py
        self._note_status(connector)
        self.reservations.check()  # a reservation ends with its EVSE's fault
        token = self.identification.ev_identified(connector)  # Autocharge: the car's EVCCID as its token
        if token is not None:
            self.identification.present_soon(token, connector.cfg.id, "autocharge")
        self._wake.set()

    def _notify_fault(self, event: FaultRaised | FaultCleared) -> None:
        """NotifyEvent (controller/ocpp/fault_events.py), queued like the transactions' events."""
        try:
            self.queue.append("NotifyEvent", self.fault_events.notify_event(event, self.clock()), self.clock())
            self._wake.set()
        except Exception:  # e.g. the store's disk is full: the status and the transactions go on
            log.exception("OCPP: NotifyEvent for %s not queued", event.code)

    def _note_status(self, connector: Any) -> None:
        """Every availability change is told, in order; offline only the latest counts (sent at reconnect)."""
        status = self.availability.reported(connector.cfg.id, self.reservations.status(connector))
        if self._noted.get(connector.cfg.id) != status:
            self._noted[connector.cfg.id] = status
            if self.accepted:  # sent after the events queued before it: the CSMS sees them in the order made
                self._statuses.append((connector.cfg.id, status, self.clock(), self.queue.last_id))

    def _follow(self, connector: Any) -> None:
        evse = connector.cfg.id
        before = self.transactions.get(evse)
        self._follower.follow(connector)  # started, updated or ended per TxStartPoint / TxStopPoint
        tx = self.transactions.get(evse)
        if tx is not None and tx is not before:
            self.identification.transaction_started(evse)  # a token shown before the plug-in
        if connector.state in WAITING_FOR_AUTH and not connector.is_authorized():
            pending = self._pending_start.pop(evse, None)  # a remote start before the car came
            if pending and pending[2] >= self.clock() and self.may_use(evse, pending[0], pending[3]):
                if tx is not None:  # AuthCtrlr.AuthorizeRemoteStart may check the token first
                    self._start_remote(connector, tx, pending[0], pending[1], pending[3])
                else:  # a later TxStartPoint: the authorization starts the transaction
                    connector.authorize()
                    self._follower.remote_token[evse] = pending[:2]
                    self._reservation_tokens[evse] = (pending[0], pending[3])
                    self._follower.follow(connector)

    def _enqueue(self, payload: dict, tx: Transaction) -> None:
        connector = self.connectors.get(tx.evse_id)
        if connector is not None and "meterValue" not in payload:  # the register a restart ends it with
            tx.energy_wh = self._energy_wh(connector, tx)
        if "idToken" in payload:  # the authorization arrives in this event: the reservation it used ends here
            token, group = self._reservation_tokens.pop(tx.evse_id, (payload["idToken"], None))
            self.reservations.use(payload, tx.evse_id, token, group)
        self.tariff_cost.note_event(payload, tx.evse_id)  # the running cost in each Updated (block I)
        self._open.record(tx, payload, online=self.accepted)  # on disk, with the transaction's state, before sent
        self._wake.set()

    def note_clean_stop(self) -> None:
        """The controller stops on purpose: a transaction still open is ended as Reboot at the next start."""
        self._open.note_clean_stop()

    def _meter(self, connector: Any, tx: Transaction, t: float, context: str) -> list[dict] | None:
        """The connector's readings; None (an event without meter values) rather than no event at all."""
        held = self.aligned.ended_samples(tx.transaction_id) if context == "Transaction.End" else []  # block J
        try:
            snap = connector.snapshot()
            return held + meter_value(t, context, energy_wh=self._energy_wh(connector, tx),
                                      power_w=snap["power_kw"] * 1000.0, current_a=snap["current_a"],
                                      voltage_v=snap["voltage_v"], soc=snap.get("soc"))
        except Exception:
            log.exception("OCPP: connector %d readings failed", connector.cfg.id)
            return held or None

    def _energy_wh(self, connector: Any, tx: Transaction) -> float | None:
        try:
            meter = getattr(connector, "meter", None)
            if meter is not None and meter.fresh:
                return meter.latest.energy_import_wh
            session = session_of(connector, tx)  # no meter: the session's energy stands in for the register
            return session.energy_wh if session is not None else 0.0
        except Exception:
            log.exception("OCPP: connector %d energy reading failed", connector.cfg.id)
            return tx.energy_wh

    async def _sample_meters(self) -> None:
        last = time.monotonic()
        while True:  # the interval is read each second: a TxUpdatedInterval the CSMS sets is in force at once
            for connector in self._follower.departed_unseen(self.connectors):
                self._follow(connector)  # TxStopPoint EVConnected: Ended within a second of that unplug
            left = last + max(0.1, self.device_model.number("SampledDataCtrlr", "TxUpdatedInterval")) - time.monotonic()
            if left > 0:
                await asyncio.sleep(min(left, 1.0))
                continue
            last = time.monotonic()
            now = self.clock()
            for evse, tx in list(self.transactions.items()):
                if tx.charging_state != "Charging":
                    continue
                try:
                    self._enqueue(tx.event("Updated", "MeterValuePeriodic", now,
                                           meter=self._meter(self.connectors[evse], tx, now, "Sample.Periodic")), tx)
                except Exception:  # e.g. the store's disk is full: try again at the next sample
                    log.exception("OCPP: periodic meter values of connector %d failed", evse)

    # ---- the CSMS's requests (StationActions) ---------------------------------------------------------
    def remote_start(self, evse_id: int | None, id_token: dict, remote_start_id: int,
                     group_id_token: dict | None = None) -> tuple[str, str | None]:
        if evse_id is None:  # an EVSE reserved for another idToken is not chosen
            evse_id = next((cid for cid, c in self.connectors.items() if c.state in WAITING_FOR_AUTH
                            and not c.is_authorized() and self.may_use(cid, id_token, group_id_token)), None)
            if evse_id is None:
                evse_id = next((cid for cid, c in self.connectors.items() if c.state == "available"
                                and self.may_use(cid, id_token, group_id_token)), None)
        connector = self.connectors.get(evse_id)
        if connector is None or connector_status(connector) in ("Faulted", "Unavailable"):
            return "Rejected", None
        if not self.may_use(evse_id, id_token, group_id_token):  # reserved for another idToken
            return "Rejected", None
        tx = self.transactions.get(evse_id)
        if tx is not None and connector.state in WAITING_FOR_AUTH and not connector.is_authorized():
            self._start_remote(connector, tx, id_token, remote_start_id, group_id_token)
            return "Accepted", tx.transaction_id
        if tx is None and connector.state in WAITING_FOR_AUTH and not connector.is_authorized():
            connector.authorize()  # no transaction yet (a later TxStartPoint): this may start it
            self._follower.remote_token[evse_id] = (id_token, remote_start_id)
            self._reservation_tokens[evse_id] = (id_token, group_id_token)
            self._follow(connector)
            started = self.transactions.get(evse_id)
            return "Accepted", started.transaction_id if started is not None else None
        if connector.state == "available":  # authorized when the car arrives
            self._pending_start[evse_id] = (id_token, remote_start_id, self.clock() + REMOTE_START_WAIT_S,
                                            group_id_token)
            return "Accepted", None
        return "Rejected", None

    def _start_remote(self, connector: Any, tx: Transaction, id_token: dict, remote_start_id: int,
                      group_id_token: dict | None = None) -> None:
        """With AuthCtrlr.AuthorizeRemoteStart the remote start's token is checked (Authorize) first."""
        self.identification.remote_start(
            connector, tx, id_token, lambda: self._authorize(connector, tx, id_token, remote_start_id, group_id_token))

    def _authorize(self, connector: Any, tx: Transaction, id_token: dict, remote_start_id: int,
                   group_id_token: dict | None = None) -> None:
        connector.authorize()
        tx.id_token, tx.remote_start_id = id_token, remote_start_id
        self._reservation_tokens[tx.evse_id] = (id_token, group_id_token)
        self._enqueue(tx.event("Updated", "RemoteStart", self.clock()), tx)

    async def call_now(self, payload: Any) -> Any:
        """A CALL outside the queue (Authorize); None without an accepted link or without an answer."""
        protocol = self._protocol
        if protocol is None or not self.accepted:
            return None
        try:
            return await self.link.call(protocol, payload)
        except Exception as exc:  # a time-out or the link dropping: the caller's offline rules decide
            log.warning("OCPP: %s got no answer (%r)", type(payload).__name__, exc)
            return None

    def remote_stop(self, transaction_id: str) -> str:
        for evse, tx in self.transactions.items():
            if tx.transaction_id == transaction_id:
                if self.connectors[evse].request_stop("remote"):
                    tx.remote_stop = True
                    self._follow(self.connectors[evse])  # TxStopPoint Authorized: this ends it
                    if self.transactions.get(evse) is tx:
                        self._enqueue(tx.event("Updated", "RemoteStop", self.clock()), tx)
                    return "Accepted"
                return "Rejected"
        return "Rejected"

    def trigger(self, message: str, evse_id: int | None) -> str:
        if message == "SignChargingStationCertificate":
            return self.security.request_certificate()
        if message == "SignV2GCertificate":  # the SECC leaf: controller/ocpp/secc_certificate.py
            return self.security.v2g.request()
        if message == "LogStatusNotification":
            return self.log_uploads.trigger()
        if message == "FirmwareStatusNotification":
            return self.firmware_updates.trigger()
        if message not in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification", "TransactionEvent"):
            return "NotImplemented"
        if evse_id is not None and evse_id not in self.connectors:
            return "Rejected"
        if message == "BootNotification" and self.accepted:
            return "Rejected"  # a BootNotification is only asked for while the station is not yet accepted
        self._triggered.append((message, evse_id))
        self._wake.set()
        return "Accepted"

    def _availability(self, evse: int | None) -> str:
        """AvailabilityState of an EVSE, or of the station (Unavailable only when no EVSE can charge)."""
        if evse is not None:
            return self.reservations.status(self.connectors[evse])
        statuses = {connector_status(c) for c in self.connectors.values()}
        return "Unavailable" if statuses <= {"Faulted", "Unavailable"} else "Available"

    # ---- reservations (block H): controller/ocpp/reservation_desk.py, reservations.py ----------------------
    def may_use(self, evse_id: int, id_token: dict | str | None, group_id_token: dict | str | None = None) -> bool:
        """May this idToken use this EVSE now (False: it is reserved for another)? Every authorization asks."""
        return self.reservations.may_use(evse_id, id_token, group_id_token)

    def reserve_now(self, reservation_id: int, expiry: str, id_token: dict, evse_id: int | None,
                    connector_type: str | None, group_id_token: dict | None) -> str:
        return self.reservations.reserve_now(reservation_id, expiry, id_token, evse_id, connector_type, group_id_token)

    def cancel_reservation(self, reservation_id: int) -> str:
        return self.reservations.cancel(reservation_id)

    def token_authorized(self, evse_id: int, id_token: dict | str, group_id_token: dict | None = None) -> None:
        """A local authorization (console, reader) let this idToken start on the EVSE: the transaction carries
        it, and the reservation it used ends (reservationId). A bare string is a token typed at the console
        (KeyCode); it matches a reservation's idToken of any type."""
        tx = self.transactions.get(evse_id)
        if tx is None:
            return
        tx.id_token = {"idToken": id_token, "type": "KeyCode"} if isinstance(id_token, str) else id_token
        self._reservation_tokens[evse_id] = (id_token, group_id_token)  # _enqueue ends the reservation it used
        self._enqueue(tx.event("Updated", "Authorized", self.clock()), tx)

    def _enqueue_message(self, action: str, payload: dict) -> None:
        """A message other than TransactionEvent: queued like one while QueueAllMessages is true (the spec's
        rule for messages that are not transaction-related); otherwise dropped while no link is accepted."""
        queue_all = (self.device_model.get({"name": "OCPPCommCtrlr"}, {"name": "QueueAllMessages"}, None)[1]
                     or "").lower() == "true"
        if not queue_all and not self.accepted:
            log.info("OCPP: %s not sent (offline, QueueAllMessages false)", action)
            return
        self.queue.append(action, payload, self.clock())
        self._wake.set()

    def change_availability(self, status: str, evse_id: int | None, connector_id: int | None) -> str:
        return self.availability.change(status, evse_id, connector_id)

    def unlock(self, evse_id: int, connector_id: int) -> tuple[str, dict | None]:
        return unlock_connector(self.connectors, self.transactions, evse_id, connector_id)

    # Reset: controller/ocpp/reset.py
    def reset(self, kind: str, evse_id: int | None) -> tuple[str, dict | None]:
        answer = self.station_reset.request(kind, evse_id, set(self.transactions), evse_id in self.connectors)
        self._start_resets()
        return answer

    def _start_resets(self) -> None:
        for evse in self.station_reset.take_due():
            work = self.station_reset.run(self) if evse is None else self.station_reset.run_evse(self, evse)
            self._tasks.append(asyncio.create_task(work, name="ocpp-reset"))

    def operative(self, evse_id: int) -> bool:
        return self.availability.operative(evse_id)

    def unsent(self) -> int:
        return len(self.queue)

    def end_transactions(self, stopped_reason: str, trigger: str, evses: set[int] | None = None) -> None:
        now = self.clock()
        for evse, tx in list(self.transactions.items()):
            if evses is not None and evse not in evses:
                continue
            self._enqueue(tx.event("Ended", trigger, now, stopped=stopped_reason,  # leaves self.transactions
                                   meter=self._meter(self.connectors[evse], tx, now, "Transaction.End")), tx)

    # GetVariables / SetVariables / GetBaseReport: controller/ocpp/provisioning.py
    def get_variables(self, requests: list[dict]) -> list[dict]:
        return self.provisioning.get_variables(requests)

    def set_variables(self, requests: list[dict]) -> list[dict]:
        return self.network.set_variables(requests, self.provisioning.set_variables)  # its own, then the rest

    def base_report(self, request_id: int, base: str) -> str:
        return self.provisioning.base_report(request_id, base)

    def message_limit(self, action: str, payload: Any, frame: str) -> OCPPError | None:
        return limit_error(self.device_model, action, payload, frame)  # controller/ocpp/device_data.py
