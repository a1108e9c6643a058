"""Requests a DC charger never serves get FAILED_SequenceError in their own response type (not a bare close),
the fault EV_SEQUENCE_ERROR, and the session closes after the answer (issue 13, MINOR)."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.v2g import exi
from controller.v2g.secc.context import MESSAGE_TYPES
from controller.v2g.secc.handlers import HANDLERS
from controller.v2g.secc.handlers.unsupported import placeholder
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)

REFUSED = [(schema, kind) for schema in ("din", "iso2") for kind, handler in sorted(HANDLERS[schema].items())
           if handler.ask is None]


def test_every_request_of_both_schemas_has_a_handler():
    import dataclasses
    for schema, types in MESSAGE_TYPES.items():
        requests = {f.name for f in dataclasses.fields(types.Body) if f.name.endswith("Req")}
        assert requests <= set(HANDLERS[schema]), requests - set(HANDLERS[schema])
    assert ("din", "ChargingStatusReq") in REFUSED and ("din", "MeteringReceiptReq") in REFUSED
    assert ("iso2", "ChargingStatusReq") in REFUSED  # ISO-2 MeteringReceiptReq is Plug & Charge's (test_secc_contract)


@pytest.mark.parametrize("schema, kind", REFUSED)
def test_a_request_never_served_is_refused_in_its_own_response_type(schema, kind):
    async def go():
        bench = Bench(schema)
        await bench.open_session()
        types = MESSAGE_TYPES[schema]
        request = placeholder(getattr(types, kind[:-3] + "Req"), types)
        out = await bench.session.on_message(exi.encode(schema, bench.car.message(kind, request)))
        await asyncio.sleep(0)  # the close is scheduled right after the answer
        return bench, out
    bench, out = asyncio.run(go())
    assert out is not None, "a bare close: the car never learns why"
    message = exi.decode(schema, out)
    assert exi.message_type(message) == kind[:-3] + "Res"
    assert getattr(message.Body, kind[:-3] + "Res").ResponseCode.value == "FAILED_SequenceError"
    assert "EV_SEQUENCE_ERROR" in bench.faults and bench.connection.closed
