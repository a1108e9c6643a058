"""The app's side of the console's CabinetView (controller/console/cabinet_view.py).

It hands the console connector states and requests (through the connector's public methods), module
states, store queries, the config, a CAN trace tap and a self-test request, and nothing else of the app.
Connectors are read from the app on each access: the console exists before the app has built them.
"""
from __future__ import annotations

import dataclasses
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

from controller.formats.cabinet.config import CabinetConfig
from controller.connector.connector import Connector
from controller.connector.session import SessionRecord
from controller.connector_selftest import ConnectorSelfTest
from controller.console.cabinet_view import (
    CertificateInfo, DeviceKind, EventSink, FrameSink, NetworkMessage, NetworkState, SelfTestRefused, StepSink, StoreQueries,
)
from controller.faults import Fault
from controller.formats.events import Event
from controller.hw.imd import InsulationMonitor
from controller.hw.meter import EnergyMeter
from controller.hw.power.group import GroupCapabilities, PowerModuleGroup
from controller.pricing.display import PriceDisplay
from controller.store import StoreError
from controller.store.health import StoreHealthWatch
from controller.diagnostics.archive import ArchiveSources

if TYPE_CHECKING:
    from controller.app import ControllerApp

log = logging.getLogger("controller.console")


class ConnectorHandle:
    """One connector and its module group, as the console's ConnectorView."""

    def __init__(self, connector: Connector, group: PowerModuleGroup):
        self._c = connector
        self._group = group

    @property
    def id(self) -> int:
        return self._c.cfg.id

    @property
    def state(self) -> str:
        return self._c.state

    @property
    def enabled(self) -> bool:
        return self._c.enabled

    @property
    def authorized(self) -> bool:
        return self._c.authorized

    @property
    def io_board_online(self) -> bool:
        return bool(self._c.io.online)

    @property
    def active_faults(self) -> Mapping[str, Fault]:
        return self._c.active_faults

    @property
    def fault_history(self) -> Sequence[Fault]:
        return self._c.fault_history

    @property
    def session(self) -> SessionRecord | None:
        return self._c.session

    @property
    def last_session(self) -> SessionRecord | None:
        return self._c.last_session

    def snapshot(self) -> dict:
        return self._c.snapshot()

    def module_capabilities(self) -> GroupCapabilities:
        return self._group.capabilities

    def module_states(self) -> list[dict]:
        return self._group.module_states()

    def power_groups(self) -> list[str] | None:
        """With a power matrix: the module groups on this connector's output now (None: a static cabinet)."""
        members = getattr(self._group, "members", None)  # a PortGroups (controller/power_sharing/port_groups.py)
        return None if members is None else sorted(members)

    def authorize(self) -> None:
        self._c.authorize()

    def request_stop(self, reason: str) -> bool:
        return self._c.request_stop(reason)

    def set_enabled(self, enabled: bool, *, maintenance: bool = False) -> None:
        self._c.set_enabled(enabled, maintenance=maintenance)

    def clear_latched(self) -> list[str]:
        return self._c.clear_latched()


def device_reading(device: EnergyMeter | InsulationMonitor | None, connector_id: int) -> dict:
    """What a polled Modbus device (meter or IMD) of one connector reports; not configured if absent."""
    if device is None:
        return {"connector": connector_id, "configured": False}
    latest = device.latest
    now = device.clock()
    return {"connector": connector_id, "configured": True, "fresh": bool(device.fresh),
            "reading": None if latest is None else dataclasses.asdict(latest),
            "age_s": None if latest is None else round(now - latest.t, 2)}


class AppCabinetView:
    """The CabinetView over a ControllerApp."""

    def __init__(self, app: ControllerApp):
        self._app = app
        self._handles: dict[int, ConnectorHandle] = {}

    @property
    def config(self) -> CabinetConfig:
        return self._app.config

    @property
    def connectors(self) -> list[ConnectorHandle]:
        handles = []
        for connector in self._app.connectors:
            cid = connector.cfg.id
            handle = self._handles.get(cid)
            if handle is None or handle._c is not connector:
                handle = self._handles[cid] = ConnectorHandle(connector, self._app.groups[cid])
            handles.append(handle)
        return handles

    @property
    def store(self) -> StoreQueries | None:
        return self._app.store

    @property
    def started_t(self) -> float | None:
        return self._app.started_t

    @property
    def store_health(self) -> StoreHealthWatch | None:
        return self._app.store_health

    def device_reading(self, kind: DeviceKind, connector_id: int) -> dict:
        devices: Mapping[int, EnergyMeter | InsulationMonitor] = self._app.meters if kind == "meter" else self._app.imds
        return device_reading(devices.get(connector_id), connector_id)

    @contextmanager
    def can_tap(self, on_frame: FrameSink) -> Iterator[None]:
        ports = list(self._app.ports.values())
        handlers = [(port, _bound(on_frame, port.name)) for port in ports]
        for port, handler in handlers:
            port.tap(handler)
        try:
            yield
        finally:
            for port, handler in handlers:
                port.untap(handler)

    async def self_test(self, connector_id: int, on_step: StepSink) -> list[dict]:
        app = self._app
        connector = next((c for c in app.connectors if c.cfg.id == connector_id), None)
        if connector is None:
            raise SelfTestRefused(f"no connector {connector_id}")
        test = ConnectorSelfTest(connector, app.groups[connector_id], app.meters.get(connector_id),
                                 app.imds.get(connector_id), app.config.charging.contactor_feedback_timeout_s)
        return await test.run(on_step)

    def subscribe(self, sink: EventSink) -> None:
        self._app.subscribe(sink)

    def reservation_refusal(self, connector_id: int, id_token: str | None) -> str | None:
        service = self._app.ocpp
        if service is None or service.may_use(connector_id, id_token):
            return None
        return "reserved for another idToken" + ("" if id_token else "; give the reserved one: authorize "
                                                  f"{connector_id} ID_TOKEN")

    def diagnostics(self) -> ArchiveSources:
        return self._app.diagnostic_sources()

    def token_authorized(self, connector_id: int, id_token: str) -> None:
        if self._app.ocpp is not None:
            self._app.ocpp.token_authorized(connector_id, id_token)

    def report(self, event: Event) -> None:
        self._app.emit(event)

    def network(self) -> NetworkState:
        service = self._app.ocpp
        if service is None:
            return NetworkState(configured=False)
        link = service.network.in_use  # the network profile (SetNetworkProfile) in use, not only the config's
        return NetworkState(
            configured=True, state=service.state, security_profile=link.security_profile, url=link.url,
            station_id=service.station_id, boot_status=service.boot_status, queue_length=len(service.queue),
            connect_attempts=service.connect_attempts,
            messages=tuple(NetworkMessage(e.direction, e.action, e.t) for e in service.frames.entries))

    def prices(self) -> PriceDisplay | None:
        return self._app.price_display

    def certificates(self) -> list[CertificateInfo]:
        found = []
        if self._app.ocpp is not None:  # the roots installed over OCPP (InstallCertificate)
            store = self._app.ocpp.security.certificates
            for use in ("CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate",
                        "MORootCertificate"):
                found += [_certificate_info(use, cert, "OCPP store") for cert in store.roots(use)]
        leaf = self._app.secc_leaf
        cert = leaf.certificate() if leaf is not None else None
        if cert is not None:  # with its OCSP status when the CSMS told one (GetCertificateStatus)
            status = self._app.ocpp.security.ocsp.summary(cert.serial_number) if self._app.ocpp is not None else ""
            found.append(dataclasses.replace(_certificate_info("SECC leaf", cert, leaf.chain_file), status=status))
        return found

    async def present_token(self, id_token: dict, connector_id: int, source: str) -> tuple[str, str]:
        return await self._app.present_token(id_token, connector_id, source)

    def record_action(self, message: str, data: dict | None = None, connector: int | None = None) -> None:
        log.info("console: %s", message)
        store = self._app.store
        if store is None:
            return
        try:
            store.event("console", message, connector, data)
        except (StoreError, ValueError) as exc:  # a closing store must not break the console
            log.warning("console: could not record %r: %s", message, exc)


def _certificate_info(use: str, cert, source: str) -> CertificateInfo:
    def name(subject) -> str:
        common = [a.value for a in subject if a.oid.dotted_string == "2.5.4.3"]  # commonName
        return str(common[0]) if common else subject.rfc4514_string()
    return CertificateInfo(use, name(cert.subject), name(cert.issuer), cert.not_valid_after_utc.timestamp(), source)


def _bound(on_frame: FrameSink, port_name: str):
    def on_port_frame(msg) -> None:
        on_frame(port_name, msg)
    return on_port_frame
