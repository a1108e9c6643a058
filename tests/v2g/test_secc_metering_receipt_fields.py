"""The MeterInfo a Plug & Charge car is asked to sign: our meter's name (the EVSEID, else "SECC", at most 32
characters), the session's energy in whole Wh (never below 0), the time now; asked only with a contract key, and
a receipt never asked for named in the record (issue 19's surviving mutants of handlers/metering_receipt.py)."""
from __future__ import annotations

import asyncio
import time

import pytest

from controller.connector.session import SessionRecord
from controller.formats.v2g.messages import iso2
from controller.v2g.secc.handlers import metering_receipt
from hil.pki.rig_pki import rig_pki
from tests.v2g.test_secc_contract import _receipt_context, _signed_receipt
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)


def asked(evse_id="US*EVSE*E1", energy_wh: float | None = 1234.7):
    async def go():
        bench = Bench("iso2")
        ctx = _receipt_context(bench)
        ctx.evse_id = evse_id
        if energy_wh is not None:
            bench.conn.sessions.session = SessionRecord(connector_id=1, start_t=0.0)
            bench.conn.sessions.session.energy_wh = energy_wh
        return metering_receipt.request(ctx)
    return asyncio.run(go())


def test_the_receipt_carries_the_sessions_energy_in_whole_wh_and_the_time_now():
    before = int(time.time())
    fields = asked()
    info = fields["MeterInfo"]
    assert fields["ReceiptRequired"] is True
    assert (info.MeterID, info.MeterReading) == ("US*EVSE*E1", 1234)
    assert before <= info.TMeter <= int(time.time())


@pytest.mark.parametrize("energy_wh, reading", [(None, 0), (0.0, 0), (-5.0, 0), (0.4, 0)])
def test_no_session_or_no_energy_reads_0(energy_wh, reading):
    assert asked(energy_wh=energy_wh)["MeterInfo"].MeterReading == reading


@pytest.mark.parametrize("evse_id, meter_id", [("", "SECC"), (b"\x00", "SECC"), ("E" * 40, "E" * 32)])
def test_the_meter_is_named_by_the_evse_id_else_secc_in_at_most_32_characters(evse_id, meter_id):
    assert asked(evse_id=evse_id)["MeterInfo"].MeterID == meter_id


def test_no_receipt_is_asked_without_a_contract_key():
    async def go():
        bench = Bench("iso2")
        ctx = _receipt_context(bench)
        ctx.contract.public_key = None
        return metering_receipt.request(ctx), ctx.contract.receipt
    assert asyncio.run(go()) == ({}, None)


def test_a_receipt_never_asked_for_is_named_in_the_record():
    async def go():
        bench = Bench("iso2")
        ctx = _receipt_context(bench)
        metering_receipt.ask(ctx, _signed_receipt(ctx, rig_pki().contract.key, iso2.MeterInfo(MeterID="X")))
        return bench
    bench = asyncio.run(go())
    assert bench.conn.active_faults["EV_SEQUENCE_ERROR"].detail == "MeteringReceiptReq: no receipt was asked for"
