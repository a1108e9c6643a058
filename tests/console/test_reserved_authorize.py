"""authorize / start at the console ask the OCPP service whether a reservation keeps the connector for
another idToken (CabinetView.reservation_refusal, answered by the service's may_use)."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from controller.app_cabinet_view import AppCabinetView
from controller.ocpp import OcppService
from controller.ocpp.transactions import timestamp
from tests.console.test_cabinet_view import TECH_PIN, FakeCabinet, _answers
from tests.ocpp import harness

pytestmark = pytest.mark.timeout(30)


class ReservedCabinet(FakeCabinet):
    """The fake view with a real OCPP service (never connected) behind the reservation questions."""

    def __init__(self):
        super().__init__()
        self.plug = harness.FakeConnector(1)
        self.service = OcppService(harness.station_config("ws://127.0.0.1:9"), "CAB-1", [self.plug])
        self.plug.sink = self.service.on_event
        self._view = AppCabinetView(SimpleNamespace(ocpp=self.service))

    def reservation_refusal(self, connector_id, id_token):
        return self._view.reservation_refusal(connector_id, id_token)

    def token_authorized(self, connector_id, id_token):
        self._view.token_authorized(connector_id, id_token)


def test_a_reserved_connector_is_authorized_only_with_the_reserved_token():
    cabinet = ReservedCabinet()
    assert cabinet.service.reserve_now(5, timestamp(time.time() + 600), {"idToken": "ALICE", "type": "Central"},
                                       1, None, None) == "Accepted"
    cabinet.plug.move("plugged")  # the car arrives: its transaction starts
    lines = [f"login {TECH_PIN}", "authorize", "start 1 BOB", "start 1 alice", "start 1 A B",
             "start 1 " + "X" * 37]
    answers = _answers(cabinet, lines)
    assert answers[1] == "error: connector 1: reserved for another idToken; give the reserved one: " \
                         "authorize 1 ID_TOKEN"
    assert answers[2] == "error: connector 1: reserved for another idToken"
    assert answers[3] == "connector 1: authorized; the session goes ahead as the car asks (plugged)"
    assert answers[4] == "error: unexpected argument 'B'"
    assert answers[5] == "error: an idToken is at most 36 printable characters"
    assert cabinet.connectors[0].authorized
    events = [m.payload for m in cabinet.service.queue.pending()]
    authorized = events[-1]
    assert authorized["triggerReason"] == "Authorized" and authorized["reservationId"] == 5
    assert authorized["idToken"] == {"idToken": "alice", "type": "KeyCode"}
    assert cabinet.service.reservations.active == []


def test_without_a_reservation_the_console_authorizes_as_before():
    cabinet = ReservedCabinet()
    answers = _answers(cabinet, [f"login {TECH_PIN}", "authorize", "start 1 ANYONE"])
    assert answers[1:] == ["connector 1: authorized (plugged)",
                           "connector 1: authorized; the session goes ahead as the car asks (plugged)"]
