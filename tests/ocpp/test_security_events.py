"""SecurityEventNotification (A04): critical events queued like TransactionEvents, sent once in order after a
reconnect and across a restart; console logins reach the CSMS through an app event."""
from __future__ import annotations

import asyncio
import ssl

import pytest

from controller.formats.events import ConsoleLogin
from controller.ocpp.security_events import SECURITY_EVENTS, SecurityEvents, link_failure_kind
from controller.store.ocpp_queue import OcppQueue
from hil.csms import CsmsSimulator
from hil.csms.test_ca import make_test_ca
from tests.ocpp.harness import PASSWORD, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(60)


def _kinds(csms) -> list[str]:
    return [e["type"] for e in csms.calls("SecurityEventNotification")]


def test_the_list_is_the_specs_and_only_critical_ones_are_queued():
    assert len(SECURITY_EVENTS) == 20 and SECURITY_EVENTS["MaintenanceLoginFailed"]
    queue = OcppQueue()
    events = SecurityEvents(queue, lambda: 1_700_000_000.0, lambda: None)
    events.note("InvalidMessages", "not JSON")  # not critical: the security log only
    events.note("TamperDetectionActivated", "x" * 400)
    assert [e.kind for e in events.entries] == ["InvalidMessages", "TamperDetectionActivated"]
    (queued,) = queue.pending()
    assert queued.action == "SecurityEventNotification"
    assert queued.payload["type"] == "TamperDetectionActivated" and len(queued.payload["techInfo"]) == 255
    assert queued.payload["timestamp"].startswith("2023-11-14T")


def test_a_link_failure_is_noted_once_per_kind_in_a_row():
    queue = OcppQueue()
    events = SecurityEvents(queue, lambda: 0.0, lambda: None)
    for _ in range(5):  # a CSMS showing a bad certificate at every reconnect
        events.link_failed(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    events.link_failed(ConnectionRefusedError())
    events.link_failed(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    events.link_up()
    events.link_failed(ssl.SSLCertVerificationError(1, "certificate verify failed"))
    assert [m.payload["type"] for m in queue.pending()] == ["InvalidCsmsCertificate"] * 3


@run_async
async def test_a_csms_certificate_outside_the_roots_is_queued_once_and_sent_when_trusted(tmp_path):
    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    bad = CsmsSimulator(password=PASSWORD, tls=other)  # an impostor first
    async with station_and_csms([FakeConnector(1)], csms=bad, csms_root_file=str(ca.root_file)) as (service, bad):
        await asyncio.sleep(0.6)
        assert service.connect_attempts >= 3 and not service.accepted
        queued = [m.payload["type"] for m in service.queue.pending()]
        assert queued == ["StartupOfTheDevice", "InvalidCsmsCertificate"]
        port = bad.port
        await bad.stop()
        good = CsmsSimulator(password=PASSWORD, tls=ca)
        good.port = port
        await good.start()
        try:
            await good.wait_for(lambda: len(_kinds(good)) >= 2, 10)
            await asyncio.sleep(0.2)
        finally:
            await good.stop()
    assert _kinds(good) == ["StartupOfTheDevice", "InvalidCsmsCertificate"]
    assert good.violations == [] and len(service.queue) == 0


@run_async
async def test_console_logins_made_offline_arrive_in_order_after_a_restart(tmp_path):
    path = tmp_path / "store.sqlite"
    csms = CsmsSimulator(password=PASSWORD)
    await csms.start()
    port = csms.port
    await csms.stop()  # the CSMS is away
    async with station_and_csms([FakeConnector(1)], csms=csms, queue=OcppQueue(path)) as (service, csms):
        await csms.stop()
        service.on_event(ConsoleLogin(False, "viewer", 1, False, 1.0))
        service.on_event(ConsoleLogin(True, "technician", 0, False, 2.0))
        await asyncio.sleep(0.3)
    assert csms.calls("SecurityEventNotification") == []
    csms = CsmsSimulator(password=PASSWORD)
    csms.port = port
    async with station_and_csms([FakeConnector(1)], csms=csms, queue=OcppQueue(path)) as (service, csms):
        await csms.wait_for(lambda: len(_kinds(csms)) >= 4, 10)
        await asyncio.sleep(0.2)
    assert _kinds(csms) == ["StartupOfTheDevice", "MaintenanceLoginFailed", "MaintenanceLoginAccepted",
                            "StartupOfTheDevice"]
    tech = csms.calls("SecurityEventNotification")[1]["techInfo"]
    assert "console" in tech
    assert csms.violations == []


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] handshake failed")
    error.reason = reason
    return error


@pytest.mark.parametrize("exc,kind", [
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), "InvalidCsmsCertificate"),
    (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), "InvalidTLSVersion"),
    (_ssl_error("UNSUPPORTED_PROTOCOL"), "InvalidTLSVersion"),
    (_ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE"), "InvalidTLSCipherSuite"),
    (_ssl_error("WRONG_VERSION_NUMBER"), None),  # no TLS server at all: not the CSMS's TLS version
    (ConnectionRefusedError(), None), (TimeoutError(), None)])
def test_link_failures_are_classified(exc, kind):
    assert link_failure_kind(exc) == kind


def test_tries_while_the_console_is_locked_do_not_flood_the_queue():
    queue = OcppQueue()
    events = SecurityEvents(queue, lambda: 0.0, lambda: None)
    events.on_event(ConsoleLogin(False, "viewer", 5, True, 1.0))  # the fifth wrong PIN locks the console
    for _ in range(100):
        events.on_event(ConsoleLogin(False, "viewer", 0, True, 2.0))  # refused unchecked while locked
    assert [m.payload["type"] for m in queue.pending()] == ["MaintenanceLoginFailed"]


@run_async
async def test_a_frame_that_is_no_ocpp_is_in_the_security_log_only():
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        await csms.wait_for(lambda: service.accepted and "CAB-1" in csms.stations, 5)
        await csms.send_raw("CAB-1", "this is not JSON")
        await csms.wait_for(lambda: [e for e in service.security_events.entries if e.kind == "InvalidMessages"], 5)
        await asyncio.sleep(0.2)
    assert "InvalidMessages" not in _kinds(csms)  # not critical: not sent
    assert csms.violations == []
