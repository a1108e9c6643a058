"""The rig car's CertificateUpdate (issue 17), straight into one SECC session (no socket): the car renews its
expiring contract through the SECC's certificate provider, and keeps the old one when the answer does not hold."""
from __future__ import annotations

import asyncio
import base64

import pytest

from hil.csms.role_ev_certificates import ContractProvisioningRole
from hil.ev.evcc.contract import car_contract
from hil.ev.evcc.link import V2gEvLink
from hil.ev.evcc.link_error import EvLinkError
from hil.ev.evcc.profile import load_profile
from hil.ev.evcc.requests import RequestBuilder
from hil.pki.rig_pki import rig_pki
from tests.v2g.test_secc_certificate_forwarding import _selected, contract_accepted  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(60)


class _SessionClient:
    def __init__(self, session):
        self.session = session
        self.tls_stream = None

    async def request(self, payload: bytes, timeout_s: float) -> bytes:
        return await asyncio.wait_for(self.session.on_message(payload), timeout_s)


class _Relay:
    """The SECC's certificate provider, answered by the rig CSMS's provisioning service (as OCPP would)."""

    def __init__(self, role: ContractProvisioningRole | None):
        self.role = role
        self.actions: list[str] = []

    async def ev_certificate(self, action, namespace, exi_request):
        self.actions.append(action)
        if self.role is None:
            return None
        status, answer = await self.role.answer(action, base64.b64encode(exi_request).decode())
        return base64.b64decode(answer) if status == "Accepted" else None


async def _car_at(relay: _Relay) -> V2gEvLink:
    bench = await _selected(relay)
    car = V2gEvLink(load_profile("iso2"), connect=None)
    car.client, car.builder = _SessionClient(bench.session), RequestBuilder("iso2", load_profile("iso2"))
    car.builder.session_id = bench.session.ctx.session_id
    car.contract = car.builder.contract = car_contract("expiring")
    return car


def test_the_car_renews_its_expiring_contract_through_the_secc(contract_accepted):
    async def go():
        relay = _Relay(ContractProvisioningRole(rig_pki(), expect="Update"))
        car = await _car_at(relay)
        old = car.contract
        renewed = await car.update_contract(rig_pki())
        return relay, car, old, renewed
    relay, car, old, renewed = asyncio.run(go())
    assert relay.actions == ["Update"] and relay.role.problems == []
    assert car.replaced_contract is old and car.contract.leaf_der != old.leaf_der
    assert car.contract.emaid == old.emaid and car.builder.contract is car.contract  # it pays with the new one
    assert car.contract.signing_key is renewed.key
    assert car.exchanges[-1]["request"] == "CertificateUpdateReq" and car.exchanges[-1]["code"] == "OK"


def test_without_an_answer_the_car_keeps_its_contract_and_says_why(contract_accepted):
    async def go():
        car = await _car_at(_Relay(None))
        old = car.contract
        with pytest.raises(EvLinkError, match="CertificateUpdate: no OK CertificateUpdateRes"):
            await car.update_contract(rig_pki())
        return car, old
    car, old = asyncio.run(go())
    assert car.contract is old and car.replaced_contract is None
