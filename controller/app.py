"""Wiring: builds transports, drivers, connectors and services from a cabinet config and runs them."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from controller.formats.cabinet.config import CabinetConfig, ConfigError
from controller.app_cabinet_view import AppCabinetView
from controller.console import ConsoleServer
from controller.connector.connector import Connector
from controller.formats.events import ControllerStarted, Event, EventSink
from controller.hw.can_bus import open_port
from controller.hw.can_port import CanPort
from controller.hw.imd import InsulationMonitor
from controller.hw.io_board import IoBoard
from controller.hw.meter import EnergyMeter
from controller.hw.power import VENDORS, PowerModuleGroup, known_vendors
from controller.hw.rfid_reader import RfidReader
from controller.hw.power.bus_load import describe_overload, frames_per_second, io_board_frames_per_second
from controller.pricing.display import PriceDisplay
from controller.pricing.price_book import PriceBook
from controller.records import StoreRecorder
from controller.diagnostics.archive import ArchiveSources
from controller.diagnostics.log_ring import recent_log
from controller.diagnostics.sources import station_sources
from controller.store import Store, StoreError
from controller.store.health import StoreHealthWatch
from controller.store.ocpp_auth import AuthStore
from controller.store.ocpp_firmware import FirmwareStore
from controller.store.ocpp_queue import OcppQueue
from controller.store.ocpp_reservations import ReservationStore
from controller.store.ocpp_monitors import MonitorStore
from controller.store.ocpp_network import NetworkStore
from controller.store.ocpp_variables import VariableStore
from controller.store.ocpp_profiles import ProfileStore
from controller.store.ocpp_station_state import StationStateStore
from controller.store.session_prices import open_session_prices
from controller.task_supervisor import TaskSupervisor
from controller.v2g.secc.context import CableOffer
from controller.v2g.secc.session import SeccSettings
from controller.v2g.secc.station import SeccStation
from controller.v2g.secc_link import SeccLinkSockets, open_secc_sockets, open_test_door_sockets

if TYPE_CHECKING:
    from controller.ocpp import OcppService
    from controller.power_sharing.live import SharedPower

log = logging.getLogger(__name__)

CONTROL_PERIOD_S = 0.02
CONTROL_MAX_SILENCE_S = 0.3  # the control tick: 15 periods without a turn is a stuck task
GROUP_MIN_SILENCE_S = 1.0  # a module group checks in every telemetry slot
POLL_SLACK_S = 1.0  # a Modbus poll: its period, every attempt timing out, a reconnect, and this


class ControllerApp:
    def __init__(self, config: CabinetConfig, *, on_event: EventSink | None = None,
                 can_override: tuple[str, str] | None = None):
        self.config = config
        self._sinks: list[EventSink] = [on_event] if on_event else []
        self.ports: dict[str, CanPort] = {}
        self.connectors: list[Connector] = []
        self.groups: dict[int, PowerModuleGroup] = {}  # per connector (with a matrix: its PortGroups)
        self.sharing: SharedPower | None = None  # a cabinet with a [power.matrix] (controller/power_sharing/live.py)
        self.boards: dict[int, IoBoard] = {}
        self.meters: dict[int, EnergyMeter] = {}
        self.imds: dict[int, InsulationMonitor] = {}
        self.seccs: dict[int, SeccStation] = {}
        self._secc_sockets: dict[int, SeccLinkSockets] = {}
        self._secc_tls = None  # ssl.SSLContext of [v2g.tls], made in build()
        self._late_tls: asyncio.Future | None = None  # TLS listeners opened for a leaf signed while running
        self.secc_leaf = None  # controller/v2g/secc_leaf.py: the leaf TLS shows cars, when there is one
        self.secc_leaf_expiry = None  # SECC_CERTIFICATE_EXPIRING while that leaf ends within 30 days
        self._mo_roots: list = []  # [v2g.tls] mo_roots, loaded in build()
        self._tasks: list[asyncio.Task] = []
        self._can_override = can_override
        self.started_t: float | None = None
        self.store: Store | None = None
        self.recorder: StoreRecorder | None = None
        self.store_health: StoreHealthWatch | None = None  # STORE_WRITE_FAILED while the disk refuses writes
        self.console = ConsoleServer(AppCabinetView(self), config.console) if config.console.port else None
        self.ocpp: OcppService | None = None  # the link to the operator's CSMS, when [ocpp] has a url
        self.prices: PriceBook | None = None  # each session's price (controller/pricing/, docs/pricing.md)
        self.price_display: PriceDisplay | None = None  # what a screen and the console's status show of it
        self.rfid_readers: list[RfidReader] = []  # card readers: per connector, or one for the cabinet
        self._token_tasks: set[asyncio.Task] = set()  # cards being checked
        # the I/O board heartbeat goes out only while every supervised task makes progress (finding 5)
        self.supervisor = TaskSupervisor(self._task_failed)
        self.restart_requested = asyncio.Event()  # an OCPP Reset: whoever runs the app stops and starts it again

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> None:
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception:  # a bad observer must never stop the controller
                log.exception("event sink failed for %s", event.KIND)

    def _bus_key(self, name: str) -> str:
        """The physical bus of config channel `name`, as written in the config (no override)."""
        cfg = self.config.can[name]
        return f"{cfg.interface}:{cfg.channel}"

    def _port(self, name: str) -> CanPort:
        """One port per physical bus: config names that share interface and channel share a port."""
        cfg = self.config.can[name]
        if self._can_override:
            cfg = replace(cfg, interface=self._can_override[0], channel=self._can_override[1])
        key = f"{cfg.interface}:{cfg.channel}"
        if key not in self.ports:
            self.ports[key] = open_port(name, cfg)
        return self.ports[key]

    def build(self) -> None:
        cfg = self.config
        recent_log()  # the controller's own log lines, kept for the diagnostics archive from now on
        if cfg.power.vendor not in VENDORS:
            raise ConfigError("power.vendor", f"unknown vendor {cfg.power.vendor!r} (known: {known_vendors()})")
        self._check_power_bus()
        if cfg.power.matrix is not None:  # issue #18: groups switched between outputs (controller/power_sharing)
            from controller.power_sharing.live import SharedPower
            self.sharing = SharedPower(cfg, self._port)
        if cfg.v2g.tls.cert_chain:  # the SECC's certificate and key: checked before anything opens
            from controller.v2g.secc_tls import secc_tls_context  # loads `cryptography`: only with TLS
            self._secc_tls = secc_tls_context(cfg.v2g.tls.cert_chain, cfg.v2g.tls.key, key_log=cfg.v2g.tls.key_log)
            from controller.v2g.secc_leaf import SeccLeaf, SeccLeafExpiryWatch  # the leaf in use: `certs`, and OCPP's replacement
            self.secc_leaf = SeccLeaf(cfg.v2g.tls.cert_chain, cfg.v2g.tls.key, self._secc_tls)
            self.secc_leaf_expiry = SeccLeafExpiryWatch(self.secc_leaf, self.emit)  # 30 days ahead
        if cfg.v2g.tls.mo_roots:  # Plug & Charge: the MO roots a contract may chain to (exit 2 when unreadable)
            from controller.v2g.contract.mo_roots import load_mo_roots
            self._mo_roots = load_mo_roots(cfg.v2g.tls.mo_roots)
        if cfg.store.path:
            self._open_store()
        for index, conn_cfg in enumerate(cfg.connectors):
            group_cfg = cfg.group(conn_cfg.group) if self.sharing is None else None
            holder: dict[str, Connector] = {}

            def on_fault(code: str, detail: str, active: bool, _h=holder) -> None:
                _h["c"].on_fault(code, detail, active)

            def on_status(status, _h=holder) -> None:
                _h["c"].on_io_status(status)

            group = self.sharing.ports[conn_cfg.id] if self.sharing is not None else PowerModuleGroup(
                self._port(cfg.power.can), cfg.power.vendor, group_cfg.addresses, index,
                keepalive_s=cfg.power.keepalive_s, telemetry_period_s=cfg.power.telemetry_period_s,
                silent_after_s=cfg.power.silent_after_s, on_fault=on_fault)
            board = IoBoard(self._port(conn_cfg.io_can), conn_cfg.id,
                            command_period_s=cfg.io_board.command_period_s,
                            lost_after_s=cfg.io_board.lost_after_s, on_status=on_status, on_fault=on_fault,
                            heartbeat_allowed=self.supervisor.heartbeat_allowed)
            connector = Connector(conn_cfg, cfg.charging, board, group, on_event=self.emit)
            holder["c"] = connector
            if conn_cfg.meter is not None:
                connector.meter = self.meters[conn_cfg.id] = EnergyMeter(conn_cfg.meter, on_fault)
            if conn_cfg.imd is not None:
                connector.imd = self.imds[conn_cfg.id] = InsulationMonitor(conn_cfg.imd, on_fault)
            self.connectors.append(connector)
            self.groups[conn_cfg.id] = group
            if self.sharing is not None:
                self.sharing.connectors[conn_cfg.id] = connector
            self.boards[conn_cfg.id] = board
        # on disk only in a store that opened: a file made here first would not be a store the next start accepts
        self.prices = PriceBook(cfg.pricing, open_session_prices(cfg.store.path if self.store is not None else None),
                                live_energy_wh=self._session_energy_wh)
        self._sinks.append(self.prices.on_event)
        self.price_display = PriceDisplay(self.prices)
        if cfg.ocpp.url:  # built here so a bad password file or CSMS root stops the start-up with exit 2
            # imported only when configured: ocpp, websockets and jsonschema cost about 8 MB and 0.7 s at start
            from controller.ocpp import OcppService
            queue = OcppQueue(cfg.store.path or None)  # on disk with a store: queued events survive a restart
            variables = VariableStore(cfg.store.path or None)  # the device model's values the CSMS set
            network = NetworkStore(cfg.store.path or None)  # SetNetworkProfile's slots, the priority
            ocpp_cfg = cfg.ocpp
            if not ocpp_cfg.certificate_dir and cfg.store.path:  # without a store: a temporary folder
                ocpp_cfg = replace(ocpp_cfg, certificate_dir=str(Path(cfg.store.path).parent / "ocpp-certificates"))
            self.ocpp = OcppService(ocpp_cfg, cfg.ocpp.station_id or cfg.name, self.connectors, queue=queue,
                                    variables=variables, network=network, reservations=ReservationStore(cfg.store.path or None),
                                    station_state=StationStateStore(cfg.store.path or None),  # availability, reset
                                    profiles=ProfileStore(cfg.store.path or None),  # block K's charging profiles
                                    restart=self.restart_requested.set,
                                    auth_store=AuthStore(cfg.store.path or None), autocharge=cfg.ocpp.autocharge,
                                    prices=self.prices,
                                    monitors=MonitorStore(cfg.store.path or None),  # SetVariableMonitoring
                                    firmware=FirmwareStore(cfg.store.path or None))  # an update across its restart
            self.price_display = PriceDisplay(self.prices, self.ocpp.tariff_cost.total_cost_fallback)
            self._sinks.append(self.ocpp.on_event)
            self.ocpp.diagnostics = self.diagnostic_sources  # GetLog's archive
            self._wire_secc_leaf()  # SignCertificate(V2GCertificate): controller/ocpp/secc_certificate.py
            if self.sharing is not None:  # a site limit from the CSMS bounds the allocator (block K, issue #18)
                self.sharing.external_limit = self.ocpp.smart_charging.station_limit_w
        for connector_id, reader_cfg in [(None, cfg.rfid), *((c.id, c.rfid) for c in cfg.connectors)]:
            if reader_cfg is not None:
                self.rfid_readers.append(RfidReader(reader_cfg, connector_id, self._card_shown))

    def _wire_secc_leaf(self) -> None:
        """A SECC leaf the CSMS signed earlier wins over [v2g.tls] (start() asks for one when SECCs run without
        any); a newly signed one is used from the next TLS handshake (controller/v2g/secc_leaf.py), the first one
        from the next SDP request (controller/v2g/late_tls.py)."""
        signing = self.ocpp.security.v2g
        signing.country = next((c.cfg.evse_id[:2] for c in self.connectors if c.cfg.evse_id), "")
        signing.on_installed = self._secc_leaf_signed
        self.ocpp.security.ocsp.leaf_chain = lambda: self.secc_leaf.chain() if self.secc_leaf is not None else []
        signed = signing.signed_leaf()
        if signed is not None:
            self._secc_leaf_signed(str(signed), str(signed))

    def _secc_leaf_signed(self, chain: str, key: str) -> None:
        if self.secc_leaf is not None:
            self.secc_leaf.replace(chain, key)
            return
        from controller.v2g.secc_leaf import SeccLeaf, SeccLeafExpiryWatch
        from controller.v2g.secc_tls import secc_tls_context
        try:  # before start() this opens the TLS ports too; after it, the running SECCs open theirs now
            context = secc_tls_context(chain, key, key_log=self.config.v2g.tls.key_log)
        except ConfigError as exc:
            log.warning("v2g: the signed SECC leaf %s is not usable: %s", chain, exc.reason)
            return
        self._secc_tls = context
        self.secc_leaf = SeccLeaf(chain, key, self._secc_tls)
        self.secc_leaf_expiry = SeccLeafExpiryWatch(self.secc_leaf, self.emit)
        if self.seccs:  # running (start() made them): awaited by stop() before the SECCs close
            from controller.v2g.late_tls import add_tls_to_running
            self._late_tls = asyncio.ensure_future(add_tls_to_running(self.seccs.values(), context,
                                                                      self._contract_validator()))

    def _session_energy_wh(self, connector_id: int) -> float | None:
        session = next((c.session for c in self.connectors if c.cfg.id == connector_id), None)
        return None if session is None else session.energy_wh

    def diagnostic_sources(self) -> ArchiveSources:
        """What the diagnostics archive holds (console `diag`, OCPP GetLog): controller/diagnostics/."""
        security = self.ocpp.security_events if self.ocpp is not None else None
        return station_sources(self.config, self.store, self.connectors, None if security is None else
                               lambda: [asdict(e) for e in security.entries.copy()])

    def _contract_validator(self):
        """Plug & Charge (issue 17): MO roots from [v2g.tls] mo_roots and, with OCPP, its installed ones."""
        if self._secc_tls is None:
            return None
        from controller.v2g.contract.mo_roots import combined
        from controller.v2g.contract.validation import ContractValidator
        ocpp = self.ocpp
        central = None
        if ocpp is not None:  # loaded by build() then; without [ocpp] importing it here would stall start()
            from controller.ocpp.contract_settings import ContractSettings  # for about 0.5 s, heartbeat running
            central = ContractSettings(ocpp.device_model)  # ISO15118Ctrlr switches
        return ContractValidator(combined(lambda: self._mo_roots, lambda: [] if ocpp is None else
                                          ocpp.security.certificates.roots("MORootCertificate")),
                                 central=lambda: central is not None and ocpp.accepted and
                                 central.central_validation_allowed)

    def _card_shown(self, id_token: dict, connector_id: int | None, source: str = "rfid") -> asyncio.Task:
        """A card's idToken, or (source "contract") a Plug & Charge eMAID the SECC validated; the task gives
        present_token's (outcome, text)."""
        task = asyncio.ensure_future(self.present_token(id_token, connector_id, source))
        self._token_tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._token_tasks.discard)
        return task

    def _contract_shown(self, token, connector_id: int) -> asyncio.Task:
        """A Plug & Charge ContractToken the SECC checked; with OCPP its chain goes to the CSMS too (C07)."""
        if self.ocpp is None:
            return self._card_shown(token.id_token(), connector_id, "contract")
        from controller.ocpp.contract_certificates import present_contract
        validator = self._contract_validator()
        from controller.ocpp.contract_settings import ContractSettings
        task = asyncio.ensure_future(present_contract(self.ocpp.identification, token, connector_id,
                                                      validator.mo_roots() if validator is not None else [],
                                                      ContractSettings(self.ocpp.device_model)))
        self._token_tasks.add(task)
        task.add_done_callback(self._token_tasks.discard)
        return task

    async def present_token(self, id_token: dict, connector_id: int | None, source: str) -> tuple[str, str]:
        """A token from a card reader or the console: (outcome, text). With OCPP the CSMS's rules decide
        (controller/ocpp/identification.py); without, it authorizes the waiting car as `authorize` does."""
        if self.ocpp is not None:
            presented = await self.ocpp.identification.present(id_token, connector_id, source)
            return presented.outcome, presented.text
        waiting = [c for c in self.connectors if c.state in ("plugged", "negotiating", "authorizing")
                   and not c.is_authorized() and connector_id in (None, c.cfg.id)]
        if not waiting:
            return "not used", f"token {id_token['idToken']} ({source}): no car waits for an authorization"
        waiting[0].authorize()
        return "authorized", f"connector {waiting[0].cfg.id}: authorized by token {id_token['idToken']} (no OCPP: " \
                             "not checked)"

    def _check_power_bus(self) -> None:
        """Refuse a config whose module traffic alone would overload the power bus (see bus_load)."""
        cfg = self.config
        power, groups = cfg.power, cfg.power.groups
        frames = sum(frames_per_second(VENDORS[power.vendor](index), group.addresses, keepalive_s=power.keepalive_s,
                                       telemetry_period_s=power.telemetry_period_s)
                     for index, group in enumerate(groups))
        bus = self._bus_key(power.can)
        frames += sum(io_board_frames_per_second(cfg.io_board.command_period_s)
                      for conn in cfg.connectors if self._bus_key(conn.io_can) == bus)
        problem = describe_overload(frames, cfg.can[power.can].bitrate, sum(len(g.addresses) for g in groups))
        if problem:
            raise ConfigError("power.telemetry_period_s", problem)

    # ---- the SECC per connector (DIN 70121 / ISO 15118-2) ---------------------------------------------------
    def attach_secc(self, connector_id: int, sockets: SeccLinkSockets) -> None:
        """Serve V2G on sockets opened elsewhere (the rig's loopback or namespace link); before start()."""
        self._secc_sockets[connector_id] = sockets

    def _start_seccs(self) -> list[SeccStation]:
        v2g = self.config.v2g
        tls_context = self._secc_tls
        if v2g.enabled and v2g.test_door_direct_tcp:
            self._open_test_doors()
        elif v2g.enabled:
            if len(v2g.interfaces) != len(self.connectors) and not self._secc_sockets:
                raise ConfigError("v2g.interfaces", "one PLC interface per connector is needed")
            opened: list[SeccLinkSockets] = []
            try:
                for conn, interface in zip(self.connectors, v2g.interfaces):
                    if conn.cfg.id not in self._secc_sockets:
                        sockets = open_secc_sockets(interface, sdp_port=v2g.sdp_port, tcp_port=v2g.tcp_port,
                                                    tls=self._secc_tls is not None)
                        opened.append(sockets)
                        self._secc_sockets[conn.cfg.id] = sockets
            except BaseException:  # e.g. a missing PLC interface: close what this call opened
                for sockets in opened:
                    sockets.close()
                raise
        for conn in self.connectors:
            sockets = self._secc_sockets.get(conn.cfg.id)
            if sockets is None:
                continue
            settings = SeccSettings(
                offer=CableOffer(conn.cfg.evse_id or f"US*EVSE*E{conn.cfg.id}", tuple(conn.cfg.energy_transfer_modes)),
                protocols=tuple(v2g.protocols), allow_list=frozenset(i.lower() for i in v2g.evcc_allow_list),
                certificates=self.ocpp.ev_certificates if self.ocpp is not None else None,  # Get15118EVCertificate
                contracts=self._contract_validator(), present_token=self._contract_shown)
            station = SeccStation(conn, sockets, settings, on_event=self.emit,
                                  tls_context=tls_context if sockets.tls_tcp is not None else None)
            self.seccs[conn.cfg.id] = station
            self._sinks.append(station.on_connector_event)
        return list(self.seccs.values())

    def _open_test_doors(self) -> None:
        """The test door ([v2g] test_door_direct_tcp): SDP and V2GTP on ::1 with no SLAC, for a rig whose car
        cannot reach this process over a powerline. Connector i's SDP port: sdp_port + i (0: any free port)."""
        v2g = self.config.v2g
        log.warning("v2g: TEST DOOR open: SDP and V2GTP on ::1 without SLAC (never on a charger)")
        opened: list[SeccLinkSockets] = []
        try:
            for index, conn in enumerate(self.connectors):
                if conn.cfg.id not in self._secc_sockets:
                    sockets = open_test_door_sockets(sdp_port=v2g.sdp_port + index if v2g.sdp_port else 0,
                                                     tcp_port=v2g.tcp_port + index if v2g.tcp_port else 0,
                                                     tls=self._secc_tls is not None)
                    opened.append(sockets)
                    self._secc_sockets[conn.cfg.id] = sockets
        except BaseException:
            for sockets in opened:
                sockets.close()
            raise

    def _open_store(self) -> None:
        """Open the log before the loop runs (it blocks for crash recovery and retention)."""
        s = self.config.store
        self.store = Store(s.path, event_retention_days=s.event_retention_days, event_max_rows=s.event_max_rows,
                           record_retention_days=s.record_retention_days, heartbeat_s=s.heartbeat_s)
        try:
            report = self.store.open()
        except StoreError as exc:
            if not exc.environmental:  # not our file, corrupt beyond repair, newer schema: refuse to start
                raise
            self.store = None  # a read-only or full disk must not keep the charger from charging
            self.store_health = StoreHealthWatch.unopened(exc.reason, self.emit)
            return
        if report.interrupted_sessions:
            log.warning("sessions %s were interrupted by the last stop", report.interrupted_sessions)
        self.recorder = StoreRecorder(self.store)
        self._sinks.insert(0, self.recorder)
        self.store_health = StoreHealthWatch(self.store, self.emit)

    async def start(self) -> None:
        if not self.connectors:
            self.build()
        loop = asyncio.get_running_loop()
        module_groups = self._module_groups()
        for group in module_groups.values():
            group.attach()
        if self.sharing is not None:
            self.sharing.matrix.attach()
        for board in self.boards.values():
            board.attach()
        for port in self.ports.values():
            port.start(loop)
        for cid, group in module_groups.items():
            name = f"modules-{cid}"
            group.on_progress = self.supervisor.register(
                name, max(GROUP_MIN_SILENCE_S, 3 * self.config.power.telemetry_period_s))
            self._supervised(group.run(), name)
        for cid, board in self.boards.items():
            self._supervised(board.run(), f"io-board-{cid}")  # a dead one only needs noticing
        if self.sharing is not None:
            self._supervised(self.sharing.matrix.run(), "power-matrix")
        devices = [(cid, kind, device) for kind, found in (("meter", self.meters), ("imd", self.imds))
                   for cid, device in found.items()]
        await asyncio.gather(*(device.start() for _, _, device in devices))  # each reports its own faults
        for cid, kind, device in devices:
            name = f"{kind}-{cid}"
            device.on_progress = self.supervisor.register(name, _poll_bound(device.cfg))
            self._supervised(device.run(), name)
        # each task is registered when it starts: silence counts from there (the Modbus start above may be slow)
        self._check_in_control = self.supervisor.register("control", CONTROL_MAX_SILENCE_S)
        self._supervised(self._control(), "control")
        self._supervised(self.supervisor.run(), "task-supervisor")
        for station in self._start_seccs():
            await station.start()
        if self.ocpp is not None:
            if self.secc_leaf is None and self.seccs:  # SECCs but no leaf: ask the CSMS for one
                self.ocpp.security.v2g.request()
            await self.ocpp.start()  # charging never waits for it: the link comes and goes on its own
        for reader in self.rfid_readers:
            await reader.start()
        self.started_t = time.monotonic()
        self.emit(ControllerStarted(tuple(c.cfg.id for c in self.connectors)))
        if self.console is not None:
            await self.console.start()

    def _module_groups(self) -> dict:
        """The module groups the app drives: one per connector, or with a matrix the cabinet's shared ones."""
        return dict(self.groups) if self.sharing is None else dict(self.sharing.module_groups)

    def stopped_task(self) -> str | None:
        """The name of a long-running task that has ended (it never should while running), or None."""
        return next((task.get_name() for task in self._tasks if task.done()), None)

    def _supervised(self, coro, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.supervisor.watch(task, name)
        self._tasks.append(task)

    def _task_failed(self, reason: str) -> None:
        """A supervised task died or is stuck: power off everywhere before the heartbeat stops."""
        for connector in self.connectors:
            try:
                connector.raise_fault("CONTROLLER_INTERNAL", reason)
            except Exception:  # the next connector still powers off; the held heartbeat trips this one
                log.exception("connector %d: CONTROLLER_INTERNAL reaction failed", connector.cfg.id)

    async def _control(self) -> None:
        while True:
            self._check_in_control()
            for connector in self.connectors:
                try:
                    connector.tick()
                except Exception:
                    log.exception("connector %d: control tick failed; cutting power", connector.cfg.id)
                    connector.raise_fault("CONTROLLER_INTERNAL", "control tick failed")
            if self.sharing is not None:
                self._tick_sharing()
            if self.recorder is not None:
                self.recorder.progress(self.connectors)
                self.store_health.check()
            if self.secc_leaf_expiry is not None:
                self.secc_leaf_expiry.check(time.monotonic())
            await asyncio.sleep(CONTROL_PERIOD_S)

    def _tick_sharing(self) -> None:
        try:
            self.sharing.tick()
        except Exception:  # a bug in the sharing must not leave current flowing on a port it mismanaged
            log.exception("power sharing: tick failed; cutting power")
            self._task_failed("power sharing tick failed")

    async def stop(self) -> None:
        """Orderly stop: power off every connector, then stop tasks and transports."""
        for connector in self.connectors:
            connector.power_off_now()
        await asyncio.sleep(0.05)
        await self._halt(clean=True)

    async def crash(self) -> None:
        """Stop dead, as a hung or killed process would: no more frames of any kind, no clean close."""
        await self._halt(clean=False)

    async def _halt(self, clean: bool) -> None:
        self.supervisor.stop()  # tasks cancelled from here on are no failure
        if self.console is not None:
            await self.console.stop()
        for reader in self.rfid_readers:
            await reader.close()
        for device in [*self.meters.values(), *self.imds.values()]:
            device.stop_polling()  # their loops end even if a cancel below is swallowed
        tasks = [*self._tasks, *self._token_tasks]
        for task in tasks:
            task.cancel()
        for port in self.ports.values():  # no more frames in either direction: nothing left to react to
            port.close()
        for _ in range(HALT_CANCEL_ROUNDS):  # cancelled again while any runs on (a swallowed cancel, see above)
            running = [task for task in tasks if not task.done()]
            if not running:
                break
            await asyncio.wait(running, timeout=HALT_WAIT_S)
            for task in running:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._late_tls is not None:
            await asyncio.gather(self._late_tls, return_exceptions=True)
        for station in self.seccs.values():
            await station.close()
        if self.ocpp is not None:
            await self.ocpp.close()
            if clean:
                self.ocpp.note_clean_stop()  # a transaction still open ends as Reboot at the next start
                self.ocpp.queue.close()
                self.ocpp.device_model.close()
                self.ocpp.reservations.close()
                self.ocpp.station_state.close()
                self.ocpp.authorization.store.close()
                self.ocpp.network.close()
                self.ocpp.monitors.close()
                self.ocpp.smart_charging.close()
        for device in [*self.meters.values(), *self.imds.values()]:
            await device.close()
        if self.prices is not None and clean:
            self.prices.close()
        if self.store is not None and clean:
            self.store.close()
            self.store = None


# Stopping: each task is cancelled again every HALT_WAIT_S while it runs on, at most HALT_CANCEL_ROUNDS times.
HALT_WAIT_S = 0.5
HALT_CANCEL_ROUNDS = 20


def _poll_bound(cfg) -> float:
    """How long a Modbus poll task may go without finishing a cycle: every attempt of two requests timing out
    after a reconnect, plus the period and some slack."""
    attempts = cfg.retries + 1
    return cfg.poll_period_s + 2 * attempts * cfg.timeout_s + cfg.link.connect_timeout_s + POLL_SLACK_S
