"""ServiceDiscoveryRes's charge service (never free: the operator bills it) in each schema, a selection without
the charge service refused, and the placeholders of a FAILED certificate answer to the byte (issue 19's
surviving mutants of handlers/service_selection.py and plug_and_charge.py)."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace

import pytest

from controller.formats.v2g.messages import iso2
from controller.v2g.secc.handlers.plug_and_charge import (
    respond_certificate_installation, respond_certificate_update,
)
from tests.v2g.test_secc_service_detail import _discovered
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_the_charge_service_is_never_offered_free(schema):
    async def go():
        return await _discovered(Bench(schema))
    answer = asyncio.run(go())
    assert answer.ChargeService.FreeService is False
    service_id = answer.ChargeService.ServiceTag.ServiceID if schema == "din" else answer.ChargeService.ServiceID
    assert service_id == 1


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_a_selection_without_the_charge_service_is_refused(schema):
    async def go():
        bench = Bench(schema)
        await _discovered(bench)
        name, body = bench.car.payment_selection()
        t = bench.car.t
        other = replace(body, SelectedServiceList=t.SelectedServiceList(SelectedService=[t.SelectedService(ServiceID=2)]))
        return await bench.send(name, other)
    assert asyncio.run(go()).ResponseCode.value == "FAILED_ServiceSelectionInvalid"


@pytest.mark.parametrize("respond", [respond_certificate_installation, respond_certificate_update])
def test_a_failed_certificate_answer_carries_the_schemas_placeholders(respond):
    answer = respond(SimpleNamespace(types=iso2), None, iso2.ResponseCode.FAILED)
    assert answer.SAProvisioningCertificateChain.Certificate == b""
    assert (answer.ContractSignatureCertChain.Id, answer.ContractSignatureCertChain.Certificate) == ("id1", b"")
    assert (answer.ContractSignatureEncryptedPrivateKey.Id, answer.ContractSignatureEncryptedPrivateKey.content) == \
        ("id2", b"")
    assert (answer.DHpublickey.Id, answer.DHpublickey.content) == ("id3", b"")
    assert (answer.eMAID.Id, answer.eMAID.content) == ("id4", "ZZ000000000000")
