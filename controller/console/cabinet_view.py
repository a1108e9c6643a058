"""What the console may see of the cabinet and ask of it: a narrow, typed view, never the app.

Console commands read connector and module states, store queries and the configuration, tap the CAN
buses for `cantrace`, and send the few requests a technician may make (authorize, stop, enable/disable,
clear latched faults, self-test). The requests go through the connector's own methods (it decides) or,
for the self-test, to an object outside the console that owns the hardware steps. The app builds the
implementation (controller/app_cabinet_view.py); tests may pass a small fake.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

import can

from controller.formats.cabinet.config import CabinetConfig
from controller.connector.session import SessionRecord
from controller.faults import Fault
from controller.formats.events import Event, EventSink
from controller.hw.power.group import GroupCapabilities
from controller.diagnostics.archive import ArchiveSources
from controller.store.health import StoreHealthWatch

FrameSink = Callable[[str, can.Message], None]  # (port name, frame); runs in the CAN receive path
StepSink = Callable[[str, bool, str], None]  # (step name, passed, detail) as each self-test step ends
DeviceKind = Literal["meter", "imd"]


@dataclass(frozen=True)
class NetworkMessage:
    """One OCPP frame on the link: "out" (station to CSMS) or "in", its action, when (time.time())."""
    direction: str
    action: str  # the CALL's action; an answer is named "<action> result" or "<action> error"
    t: float


@dataclass(frozen=True)
class NetworkState:
    """The station's link to the operator's CSMS (OCPP), as the console shows it."""
    configured: bool  # [ocpp] has a url
    state: str = "off"  # off, connecting, disconnected, booting, boot pending, boot rejected, accepted
    security_profile: int = 0
    url: str = ""
    station_id: str = ""
    boot_status: str | None = None  # the last BootNotification answer: Accepted, Pending, Rejected
    queue_length: int = 0  # messages waiting for the CSMS (TransactionEvents kept until answered)
    connect_attempts: int = 0
    messages: tuple[NetworkMessage, ...] = ()  # the last ones, oldest first


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate the station holds, as `certs` lists it: an installed root (by its OCPP use) or the
    SECC leaf ISO 15118 cars see (use "SECC leaf")."""
    use: str
    subject: str  # the subject's common name (the whole subject when it has none)
    issuer: str
    not_after: float  # time.time() at which it ends
    source: str = ""  # where it is kept (the OCPP store, a [v2g.tls] file)
    status: str = ""  # what is known of its revocation, e.g. "OCSP good until 2026-12-04" ("" nothing)


class SelfTestRefused(Exception):
    """The self-test cannot run now (a car is connected, a fault is active...); the message says why."""


class ConnectorView(Protocol):
    """One connector as the console sees it."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def authorized(self) -> bool: ...
    @property
    def io_board_online(self) -> bool: ...
    @property
    def active_faults(self) -> Mapping[str, Fault]: ...
    @property
    def fault_history(self) -> Sequence[Fault]: ...
    @property
    def session(self) -> SessionRecord | None: ...
    @property
    def last_session(self) -> SessionRecord | None: ...

    def snapshot(self) -> dict: ...
    def module_capabilities(self) -> GroupCapabilities: ...
    def module_states(self) -> list[dict]: ...
    def power_groups(self) -> list[str] | None: ...  # a matrix cabinet's groups on this output (None: no matrix)

    # the requests: the connector decides
    def authorize(self) -> None: ...
    def request_stop(self, reason: str) -> bool: ...
    def set_enabled(self, enabled: bool, *, maintenance: bool = False) -> None: ...
    def clear_latched(self) -> list[str]: ...


class StoreQueries(Protocol):
    """The store's read side, as the console uses it (each call blocks: run it in a worker thread)."""

    def fault_history(self, limit: int = 50) -> list[dict]: ...
    def recent_events(self, limit: int = 50, connector: int | None = None) -> list[dict]: ...
    def recent_sessions(self, limit: int = 20, connector: int | None = None) -> list[dict]: ...
    def uptime(self, connector: int, now: float | None = None) -> dict[str, float]: ...


class PriceView(Protocol):
    """The prices a screen shows (controller/pricing/display.py, docs/pricing.md)."""

    def price_before_start(self, connector: int) -> dict: ...
    def running_cost(self, connector: int) -> dict | None: ...


class CabinetView(Protocol):
    @property
    def config(self) -> CabinetConfig: ...  # frozen: what `config` and `version` show
    @property
    def connectors(self) -> Sequence[ConnectorView]: ...
    @property
    def store(self) -> StoreQueries | None: ...
    @property
    def started_t(self) -> float | None: ...  # time.monotonic() when the controller finished starting
    @property
    def store_health(self) -> StoreHealthWatch | None: ...  # STORE_WRITE_FAILED while the disk refuses writes

    def device_reading(self, kind: DeviceKind, connector_id: int) -> dict:
        """A polled Modbus device's last reading: {connector, configured, fresh, reading, age_s}."""
        ...

    def can_tap(self, on_frame: FrameSink) -> AbstractContextManager[Any]:
        """While the context is open, every frame received on every CAN port is also given to on_frame."""
        ...

    async def self_test(self, connector_id: int, on_step: StepSink) -> list[dict]:
        """Run the hardware self-test of an idle connector; its steps. Raises SelfTestRefused."""
        ...

    def subscribe(self, sink: EventSink) -> None: ...

    def report(self, event: Event) -> None:
        """Give an event of the console's own (a login) to the app's subscribers, e.g. the OCPP service."""
        ...

    def network(self) -> NetworkState:
        """The OCPP link's state now; NetworkState(configured=False) when the cabinet has no CSMS."""
        ...

    def certificates(self) -> Sequence[CertificateInfo]:
        """The installed roots (OCPP store) and the SECC leaf (the one TLS shows cars); () when none."""
        ...

    def prices(self) -> PriceView | None:
        """Each connector's price and running cost; None when the app has none (not built yet)."""
        ...

    async def present_token(self, id_token: dict, connector_id: int, source: str) -> tuple[str, str]:
        """Show an idToken for a connector as a card reader would: (outcome, text); outcome authorized,
        waiting (for the car), refused or not used."""
        ...

    def record_action(self, message: str, data: dict | None = None, connector: int | None = None) -> None:
        """Log a console action and keep it in the store when there is one; never raises."""
        ...

    def reservation_refusal(self, connector_id: int, id_token: str | None) -> str | None:
        """Why this idToken (None: none given) may not charge on the connector now (an OCPP reservation for
        another), or None when it may."""
        ...

    def token_authorized(self, connector_id: int, id_token: str) -> None:
        """The console let this idToken charge on the connector: OCPP reports it and ends its reservation."""
        ...

    def diagnostics(self) -> ArchiveSources:
        """Where the diagnostics archive's parts come from (controller/diagnostics/): console `diag`."""
        ...
