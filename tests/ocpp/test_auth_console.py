"""`authorize CONNECTOR IDTOKEN [TYPE]` on the console: against a fake view, and with the desk cabinet, the
rig's car and the rig's CSMS (a refused card never lets the session reach the contactors)."""
from __future__ import annotations

import asyncio
import json

import pytest

from controller.formats.cabinet.config import OcppConfig
from controller.formats.cabinet.rfid_reader import RfidReaderConfig
from hil.csms import CsmsSimulator
from hil.ev.car import CarPlan
from hil.sim.rfid_reader import RfidReaderSim
from tests.console.harness import TECH_PIN, ask, ask_json, cabinet, connect, until
from tests.console.test_cabinet_view import FakeCabinet, _answers

pytestmark = pytest.mark.timeout(90)

PASSWORD = "console-password-0123456789"


class TokenCabinet(FakeCabinet):
    def __init__(self, outcome: str = "authorized"):
        super().__init__()
        self.presented: list[tuple[dict, int, str]] = []
        self.outcome = outcome

    async def present_token(self, id_token: dict, connector_id: int, source: str) -> tuple[str, str]:
        self.presented.append((id_token, connector_id, source))
        return self.outcome, f"connector {connector_id}: token {id_token['idToken']} {self.outcome}"


def test_a_token_on_the_console_goes_the_way_of_a_card():
    cabinet = TokenCabinet()
    answers = _answers(cabinet, [f"login {TECH_PIN}", "authorize 1 04a1b2c3", "authorize 1 12345 KeyCode",
                                 "json authorize 1 04A1B2C3"])
    assert answers[1] == "connector 1: token 04A1B2C3 authorized"
    assert cabinet.presented[:2] == [({"idToken": "04A1B2C3", "type": "ISO14443"}, 1, "console"),
                                     ({"idToken": "12345", "type": "KeyCode"}, 1, "console")]
    reply = json.loads(answers[3])
    assert reply["ok"] and reply["data"]["outcome"] == "authorized"


@pytest.mark.parametrize("line,reason", [
    ("authorize 1 XYZ", "error: a ISO14443 idToken is the card's UID in hex, e.g. 04A1B2C3"),
    ("authorize 1 04A1 Bank", "error: token type 'Bank' is not one of"),
    ("authorize 1 " + "1" * 37 + " KeyCode", "error: an idToken is 1 to 36 printable ASCII characters"),
    ("authorize 1 04A1 KeyCode extra", "error: usage: authorize CONNECTOR IDTOKEN [TYPE]"),
    ("authorize 9 04A1", "error: no connector '9'"),
])
def test_bad_tokens_are_one_clear_line(line, reason):
    cabinet = TokenCabinet()
    answer = _answers(cabinet, [f"login {TECH_PIN}", line])[1]
    assert answer.startswith(reason) and "\n" not in answer
    assert cabinet.presented == []


def test_a_refused_token_is_an_error_and_the_old_form_still_authorizes():
    cabinet = TokenCabinet(outcome="refused")
    cabinet.connectors[0].state = "authorizing"
    answers = _answers(cabinet, [f"login {TECH_PIN}", "authorize 1 04A1B2C3", "authorize 1"])
    assert answers[1] == "error: connector 1: token 04A1B2C3 refused"
    assert answers[2] == "connector 1: authorized (authorizing)"


def test_the_desk_cabinet_charges_on_an_accepted_card_and_never_on_a_refused_one(tmp_path):
    async def scenario():
        csms = CsmsSimulator(password=PASSWORD)
        csms.tokens.update({"04A1B2C3": {"status": "Accepted"}, "0BADCAFE": {"status": "Blocked"}})
        url = await csms.start()
        ocpp = OcppConfig(url=url, station_id="DESK-1", password=PASSWORD, response_timeout_s=5.0,
                          retry_back_off_wait_minimum_s=0.05, retry_back_off_random_range_s=0.05)
        try:
            async with cabinet(tmp_path, ocpp=ocpp, charging={"auto_authorize": False}) as cab:
                await until(lambda: cab.app.ocpp.state == "accepted", "the station accepted")
                car = cab.rig.new_car(1, cab.v2g.car_link(1))
                driving = asyncio.create_task(car.run(CarPlan(target_soc=99.0, request_period_s=0.05,
                                                              stop_after_charging_s=0.5)))
                connector = cab.connector
                await until(lambda: connector.state == "authorizing", "the car waits for an authorization")
                client = await connect(cab.path)
                try:
                    await ask(client, f"login {TECH_PIN}")
                    refused = await ask(client, "authorize 1 0BADCAFE")
                    await asyncio.sleep(0.5)  # the car keeps asking; nothing goes ahead
                    still = connector.state, connector.authorized, cab.rig.plants[1].contactors_closed
                    accepted = await ask_json(client, "json authorize 1 04A1B2C3")
                    await until(lambda: connector.state == "charging", "charging")
                finally:
                    client.close()
                await asyncio.wait_for(driving, 30)
                await until(lambda: any(e["triggerReason"] == "Authorized" for e in csms.calls("TransactionEvent")),
                            "the Authorized event at the CSMS")
                return refused, still, accepted
        finally:
            await csms.stop()

    refused, still, accepted = asyncio.run(scenario())
    assert refused.startswith("error: connector 1: token 0BADCAFE refused (Blocked")
    assert still == ("authorizing", False, False)
    assert accepted["ok"] and accepted["data"]["outcome"] == "authorized"



def test_without_ocpp_a_card_at_the_cabinets_reader_lets_the_waiting_car_charge(tmp_path):
    """The app's wiring of a reader from [rfid]: without a CSMS a card is taken as it is, like `authorize`."""
    async def scenario():
        sim = RfidReaderSim()
        try:
            async with cabinet(tmp_path, charging={"auto_authorize": False},
                               rfid=RfidReaderConfig(port=sim.port)) as cab:
                reader, = cab.app.rfid_readers
                await until(lambda: reader.is_open, "the reader's port open")
                car = cab.rig.new_car(1, cab.v2g.car_link(1))
                driving = asyncio.create_task(car.run(CarPlan(target_soc=99.0, request_period_s=0.05,
                                                              stop_after_charging_s=0.3)))
                await until(lambda: cab.connector.state == "authorizing", "the car waits for an authorization")
                sim.send(b"TOKEN ISO14443 04A1B2C3*00\n")  # a corrupted line: nothing happens
                await asyncio.sleep(0.3)
                before = cab.connector.authorized, cab.connector.state
                sim.show("04A1B2C3")
                await until(lambda: cab.connector.state == "charging", "charging")
                await asyncio.wait_for(driving, 30)
                return before, reader.rejected
        finally:
            sim.close()

    before, rejected = asyncio.run(scenario())
    assert before == (False, "authorizing") and rejected[0].startswith("checksum mismatch")
