"""The SECC session on its own: handshake, SessionID, message order, malformed EXI, timers, cable offer,
identification. A real Connector with fake drivers answers; the car's requests come from the rig's EVCC."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.connector import Connector
from controller.formats.v2g import exi
from controller.formats.v2g.messages import appproto
from controller.v2g.secc import handshake
from controller.v2g.secc.context import CableOffer
from controller.v2g.secc.session import SeccSession, SeccSettings, SeccTimers
from controller.v2g.v2gtp_server import V2gtpConnection
from hil.ev.evcc.profile import load_profile
from hil.ev.evcc.requests import RequestBuilder
from tests.connector.fakes import FakeBoard, FakeGroup, FakeImd
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)

DIN = appproto.AppProtocol(ProtocolNamespace=handshake.DIN_NAMESPACE, VersionNumberMajor=2, VersionNumberMinor=0,
                           SchemaID=1, Priority=2)
ISO2 = appproto.AppProtocol(ProtocolNamespace=handshake.ISO2_NAMESPACE, VersionNumberMajor=2, VersionNumberMinor=0,
                            SchemaID=10, Priority=1)
TESLA = appproto.AppProtocol(ProtocolNamespace=handshake.TESLA_NAMESPACE, VersionNumberMajor=0,
                             VersionNumberMinor=7, SchemaID=2, Priority=1)


class Bench:
    """A connector (fake drivers, car plugged: CP B) and one SECC session on a connection without a socket."""

    def __init__(self, schema: str = "din", *, auto_authorize: bool = True, modes=("DC_extended", "DC_core"),
                 allow_list=frozenset(), timers: SeccTimers = SeccTimers(), profile: str | None = None):
        self.board, self.group, self.clock = FakeBoard(), FakeGroup(), FakeClock()
        cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A",
                              energy_transfer_modes=tuple(modes))
        self.conn = Connector(cfg, ChargingConfig(auto_authorize=auto_authorize), self.board, self.group,
                              clock=self.clock, wall_clock=self.clock)
        self.conn.imd = FakeImd(self.board, self.clock)  # every DC connector has one (cable check)
        self.conn.on_io_status(self.board.status)
        self.conn.tick()
        self.cp("B")
        self.connection = V2gtpConnection(peer=("::1", 1))
        settings = SeccSettings(offer=CableOffer("US*EVSE*E1", tuple(modes)), allow_list=allow_list, timers=timers)
        self.session = SeccSession(self.connection, self.conn, settings)
        self.car = RequestBuilder(schema, load_profile(profile or schema))

    def settle(self, steps: int = 20) -> None:
        for _ in range(steps):
            self.board.apply_contactors()
            self.conn.on_io_status(self.board.status)
            self.clock.advance(0.02)
            self.conn.tick()

    def cp(self, state: str) -> None:
        self.board.status = replace(self.board.status, cp_state=state)
        self.conn.on_io_status(self.board.status)

    async def handshake(self, *offers) -> appproto.SupportedAppProtocolRes:
        offers = offers or ((DIN,) if self.car.schema == "din" else (ISO2,))
        out = await self.session.on_message(exi.encode("appproto", appproto.SupportedAppProtocolReq(
            AppProtocol=list(offers))))
        return exi.decode("appproto", out)

    async def ask(self, op: str, **fields):
        """Send one request the car builds; the response body (or None when the SECC sent nothing)."""
        return await self.send(*getattr(self.car, op)(**fields))

    async def send(self, name: str, body, message=None):
        """Send `body` as request `name` (or a whole `message` the test built); the response body, or None."""
        message = message or self.car.message(name, body)
        out = await self.session.on_message(exi.encode(self.car.schema, message))
        if out is None:
            return None
        answer = exi.decode(self.car.schema, out)
        if name == "SessionSetupReq":
            self.car.session_id = answer.Header.SessionID
        return getattr(answer.Body, exi.message_type(answer))

    async def open_session(self) -> None:
        await self.handshake()
        setup = await self.ask("session_setup", evcc_id="0465650064c3")
        assert setup.ResponseCode.value == "OK_NewSessionEstablished"
        assert (await self.ask("service_discovery")).ResponseCode.value == "OK"
        assert (await self.ask("payment_selection")).ResponseCode.value == "OK"

    @property
    def faults(self) -> list[str]:
        return list(self.conn.active_faults)


def run(coro):
    return asyncio.run(coro)


# ---- handshake ---------------------------------------------------------------------------------------------
def test_handshake_follows_the_cars_priority():
    request = appproto.SupportedAppProtocolReq(AppProtocol=[DIN, ISO2])
    assert handshake.choose_protocol(request).schema == "iso2"
    assert handshake.choose_protocol(request, ("din",)).schema == "din"
    assert handshake.choose_protocol(replace(request, AppProtocol=[replace(DIN, Priority=1), replace(ISO2, Priority=2)])
                                     ).schema == "din"


def test_tesla_namespace_maps_to_din_and_answers_dins_schema_id():
    both = appproto.SupportedAppProtocolReq(AppProtocol=[replace(DIN, SchemaID=1), TESLA])
    agreement = handshake.choose_protocol(both)
    assert (agreement.schema, agreement.schema_id) == ("din", 1)
    alone = handshake.choose_protocol(appproto.SupportedAppProtocolReq(AppProtocol=[TESLA]))
    assert (alone.schema, alone.schema_id) == ("din", 2)


def test_no_common_protocol_is_refused_and_the_session_closes():
    async def go():
        bench = Bench()
        other = replace(DIN, ProtocolNamespace="urn:iso:std:iso:15118:-20:DC")
        answer = await bench.handshake(other)
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode == appproto.ResponseCode.Failed_NoNegotiation and answer.SchemaID is None
    assert bench.connection.closed


# ---- the opening: SessionSetup, service and payment selection ------------------------------------------------
@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_opening_offers_the_cables_energy_transfer_modes(schema):
    async def go():
        bench = Bench(schema, modes=("DC_core", "DC_extended"))
        await bench.handshake()
        setup = await bench.ask("session_setup", evcc_id="0465650064c3")
        discovery = await bench.ask("service_discovery")
        return bench, setup, discovery
    bench, setup, discovery = run(go())
    assert setup.ResponseCode.value == "OK_NewSessionEstablished"
    assert len(bench.car.session_id) == 8 and bench.conn.state == "negotiating"
    assert bench.conn.evcc_id == "0465650064c3"
    if schema == "din":
        assert discovery.ChargeService.EnergyTransferType.value == "DC_core"
        assert [p.value for p in discovery.PaymentOptions.PaymentOption] == ["ExternalPayment"]
    else:
        assert [m.value for m in discovery.ChargeService.SupportedEnergyTransferMode.EnergyTransferMode] == [
            "DC_core", "DC_extended"]


def test_one_byte_session_id_in_session_setup_is_accepted():
    async def go():
        bench = Bench("din", profile="tesla")
        assert bench.car.session_id == b"\x00"
        await bench.handshake(replace(DIN, SchemaID=1), TESLA)
        return await bench.ask("session_setup", evcc_id="4cfcaa000001")
    assert run(go()).ResponseCode.value == "OK_NewSessionEstablished"


def test_wrong_session_id_is_refused_recorded_and_closed():
    async def go():
        bench = Bench()
        await bench.handshake()
        await bench.ask("session_setup", evcc_id="0465650064c3")
        bench.car.session_id = bytes(8)
        answer = await bench.ask("service_discovery")
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode.value == "FAILED_UnknownSession"
    assert bench.connection.closed and "EV_SEQUENCE_ERROR" in bench.faults


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_request_out_of_order_is_a_sequence_error(schema):
    async def go():
        bench = Bench(schema)
        await bench.handshake()
        await bench.ask("session_setup", evcc_id="0465650064c3")
        answer = await bench.ask("current_demand", target_voltage_v=400, target_current_a=10, soc_percent=50)
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode.value == "FAILED_SequenceError"
    assert bench.connection.closed and "EV_SEQUENCE_ERROR" in bench.faults
    assert bench.conn.state == "error_shutdown"


def test_session_stop_is_accepted_right_after_the_opening():
    async def go():
        bench = Bench()
        await bench.open_session()
        answer = await bench.ask("session_stop")
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode.value == "OK" and bench.conn.state == "session_end"
    assert bench.connection.closed and bench.session.stopped and bench.faults == []


# ---- malformed EXI -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["handshake", "opening", "cable_check"])
def test_malformed_exi_closes_the_session_and_records_a_fault(when):
    async def go():
        bench = Bench()
        if when != "handshake":
            await bench.open_session()
        if when == "cable_check":
            await bench.ask("authorize")
            await bench.ask("charge_parameters", max_voltage_v=420, max_current_a=100, soc_percent=30)
            bench.cp("C")
            await bench.ask("cable_check")
            for _ in range(2):  # lock confirmed and the IMD self-test, then the contactors
                bench.board.apply_contactors()
                bench.conn.on_io_status(bench.board.status)
                bench.conn.tick()
            assert bench.board.contactors_cmd
        out = await bench.session.on_message(b"\x80\xff\xff\xff\x00garbage")
        return bench, out
    bench, out = run(go())
    assert out is None and bench.connection.closed
    assert "V2G_MALFORMED_MESSAGE" in bench.faults
    bench.settle()  # the connector's error shutdown: current down, modules off, contactors open
    assert not bench.board.contactors_cmd and not bench.group.is_on


# ---- identification ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_authorization_ongoing_until_the_console_authorizes(schema):
    async def go():
        bench = Bench(schema, auto_authorize=False)
        await bench.open_session()
        first = await bench.ask("authorize")
        bench.conn.authorize()  # the console's "authorize"
        second = await bench.ask("authorize")
        return first, second
    first, second = run(go())
    assert (first.ResponseCode.value, first.EVSEProcessing.value) == ("OK", "Ongoing")
    assert second.EVSEProcessing.value == "Finished"


@pytest.mark.parametrize("listed", [True, False])
def test_evccid_allow_list_authorizes_at_session_setup(listed):
    async def go():
        allow = frozenset({"0465650064c3"} if listed else {"aabbccddeeff"})
        bench = Bench(auto_authorize=False, allow_list=allow)
        await bench.open_session()
        return await bench.ask("authorize")
    assert run(go()).EVSEProcessing.value == ("Finished" if listed else "Ongoing")


def test_energy_transfer_mode_not_offered_is_refused():
    async def go():
        bench = Bench("iso2", modes=("DC_core",))
        await bench.open_session()
        await bench.ask("authorize")
        return await bench.ask("charge_parameters", max_voltage_v=420, max_current_a=100, soc_percent=30)
    assert run(go()).ResponseCode.value == "FAILED_WrongEnergyTransferMode"


# ---- timers --------------------------------------------------------------------------------------------------
def test_no_session_setup_within_communication_setup_time():
    async def go():
        bench = Bench(timers=SeccTimers(communication_setup_s=0.05))
        await bench.handshake()
        await asyncio.sleep(0.2)
        return bench
    bench = run(go())
    assert bench.connection.closed and "no SessionSetupReq" in bench.connection.close_reason
    assert "EV_TIMEOUT" in bench.faults


def test_no_power_delivery_within_ready_to_charge_time():
    async def go():
        bench = Bench(timers=SeccTimers(ready_to_charge_s=0.05))
        await bench.open_session()
        await bench.ask("authorize")
        await asyncio.sleep(0.2)
        return bench
    bench = run(go())
    assert bench.connection.closed and "ReadyToCharge" in bench.connection.close_reason
    assert "EV_TIMEOUT" in bench.faults and bench.conn.state == "error_shutdown"
