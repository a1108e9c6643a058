"""A connector stand-in with the public face the OCPP service reads, and a station + rig CSMS on loopback."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

from controller.formats.cabinet.config import OcppConfig
from controller.connector.session import SessionRecord
from controller.formats.events import PhaseChanged
from controller.ocpp import OcppService
from hil.csms import CsmsSimulator

PASSWORD = "rig-password-0123456789"
STATION = "CAB-1"


@dataclass
class FakeConnector:
    """States and calls as the real Connector has them; `move` emits the phase event the app would."""
    id: int
    state: str = "available"
    authorized: bool = False
    faults: list = field(default_factory=list)
    session: SessionRecord | None = None
    last_session: SessionRecord | None = None
    stop_reasons: list = field(default_factory=list)
    meter = None

    def __post_init__(self):
        self.cfg = SimpleNamespace(id=self.id, type="CCS1")
        self.sink = lambda event: None

    def blocking_faults(self):
        return list(self.faults)

    def is_authorized(self):
        return self.authorized

    def authorize(self):
        self.authorized = True

    def request_stop(self, reason="user_stop"):
        if self.state not in ("negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge",
                              "charging"):
            return False
        self.stop_reasons.append(reason)
        if self.session is not None and not self.session.stop_reason:
            self.session.stop_reason = reason
        return True

    def snapshot(self):
        charging = self.state == "charging"
        return {"voltage_v": 400.0 if charging else 0.0, "current_a": 100.0 if charging else 0.0,
                "power_kw": 40.0 if charging else 0.0, "soc": 55 if charging else None}

    def move(self, state: str):
        if state == "negotiating" and self.session is None:
            self.session = SessionRecord(connector_id=self.id, start_t=0.0)
        if state in ("available", "unavailable") and self.session is not None:
            if not self.session.stop_reason:
                self.session.stop_reason = "unplugged"
            self.last_session, self.session = self.session, None
        if state == "available":  # as the Connector's on_enter_available: the next car starts unauthorized
            self.authorized = False
        if self.session is not None and state == "charging":
            self.session.energy_wh += 1500.0
        self.state = state
        self.sink(PhaseChanged(self.id, state, 0.0))


def station_config(url: str, **changes) -> OcppConfig:
    cfg = OcppConfig(url=url, station_id=STATION, password=PASSWORD, retry_back_off_wait_minimum_s=0.05,
                     retry_back_off_random_range_s=0.05, retry_back_off_repeat_times=2, meter_interval_s=3600.0,
                     response_timeout_s=5.0, websocket_ping_interval_s=5.0)
    return replace(cfg, **changes)


@contextlib.asynccontextmanager
async def station_and_csms(connectors, *, csms: CsmsSimulator | None = None, queue=None, variables=None,
                           clock=None, reservations=None, station_state=None, restart=None, auth_store=None,
                           firmware_store=None, **changes):
    csms = csms or CsmsSimulator(password=PASSWORD)
    url = await csms.start()
    if csms.tls is not None:
        changes.setdefault("security_profile", 2)
        changes.setdefault("csms_root_file", str(csms.tls.root_file))
    service = OcppService(station_config(url, **changes), STATION, connectors, queue=queue, rng=random.Random(1),
                          variables=variables, reservations=reservations, station_state=station_state,
                          restart=restart, auth_store=auth_store, firmware=firmware_store,
                          **({"clock": clock} if clock else {}))
    for connector in connectors:
        connector.sink = service.on_event
    await service.start()
    try:
        yield service, csms
    finally:
        await service.close()
        await csms.stop()


def run_async(test):
    """Run an async test body in its own event loop (the suite has no asyncio plugin)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return wrapper
