"""SetNetworkProfile + NetworkConfigurationPriority (B09/B10) with two rig CSMS, the fallback to the previous
profile, and no downgrade of the security profile (A05)."""
from __future__ import annotations

import asyncio
import contextlib
import random

import pytest
from ocpp.v201 import call

from controller.ocpp import OcppService
from controller.ocpp.network_profiles import NetworkProfiles
from controller.formats.cabinet.config import OcppConfig
from controller.store.ocpp_network import NetworkStore
from controller.store.ocpp_variables import VariableStore
from hil.csms import CsmsSimulator
from hil.csms.test_ca import make_test_ca
from tests.ocpp.harness import PASSWORD, STATION, FakeConnector, run_async, station_config

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def station(url: str, tmp_path, **changes):
    """A station on disk (its stores and certificates under tmp_path), as a restart would find them."""
    service = OcppService(station_config(url, certificate_dir=str(tmp_path / "certs"), **changes), STATION,
                          [FakeConnector(1)], rng=random.Random(1), variables=VariableStore(tmp_path / "store.db"),
                          network=NetworkStore(tmp_path / "store.db"))
    await service.start()
    try:
        yield service
    finally:
        await service.close()


def _variable(component: str, name: str, value: str | None = None) -> dict:
    item = {"component": {"name": component}, "variable": {"name": name}}
    return {**item, "attributeValue": value} if value is not None else item


async def _set(csms, component, name, value):
    answer = await csms.set_variables(STATION, [_variable(component, name, value)])
    return answer.set_variable_result[0]


def _profile(url: str, profile: int) -> dict:
    return {"ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": url, "messageTimeout": 5,
            "securityProfile": profile, "ocppInterface": "Wired0"}


async def _booted(csms, service, timeout=10.0):
    await csms.wait_for(lambda: STATION in csms.stations and service.accepted, timeout)


@run_async
async def test_the_csms_moves_the_station_to_another_csms_and_it_stays_there_after_a_restart(tmp_path):
    first, second = CsmsSimulator(password=PASSWORD), CsmsSimulator(password=PASSWORD)
    url_first, url_second = await first.start(), await second.start()
    try:
        async with station(url_first, tmp_path) as service:
            await _booted(first, service)
            answer = await first.peer(STATION).call(call.SetNetworkProfile(
                configuration_slot=1, connection_data=_profile(url_second, 1)))
            assert answer.status == "Accepted"
            assert (await _set(first, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0"))[
                "attribute_status"] == "Accepted"
            await _booted(second, service)
            got = await second.get_variables(STATION, [_variable("OCPPCommCtrlr", "NetworkConfigurationPriority")])
            assert got.get_variable_result[0]["attribute_value"] == "1,0"
            assert service.network.active_slot == 1 and service.network.in_use.url == url_second
        boots_second = len(second.calls("BootNotification"))
        async with station(url_first, tmp_path) as service:  # restarted: slot 1 first
            await _booted(second, service)
        assert len(second.calls("BootNotification")) == boots_second + 1
        assert len(first.calls("BootNotification")) == 1
    finally:
        await first.stop()
        await second.stop()
    assert first.violations == [] and second.violations == []


@run_async
async def test_a_profile_that_cannot_connect_falls_back_to_the_previous_one(tmp_path):
    home, gone = CsmsSimulator(password=PASSWORD), CsmsSimulator(password=PASSWORD)
    url_home, url_gone = await home.start(), await gone.start()
    await gone.stop()  # a CSMS that is not there (a wrong address from the operator)
    try:
        async with station(url_home, tmp_path) as service:
            await _booted(home, service)
            assert (await _set(home, "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "2"))[
                "attribute_status"] == "Accepted"
            await home.peer(STATION).call(call.SetNetworkProfile(configuration_slot=2,
                                                                 connection_data=_profile(url_gone, 1)))
            await _set(home, "OCPPCommCtrlr", "NetworkConfigurationPriority", "2,0")
            await home.wait_for(lambda: len(home.calls("BootNotification")) >= 2, 10)
            await _booted(home, service)
            assert service.network.active_slot == 0 and service.connect_attempts >= 4  # 1 + 2 failed + 1
    finally:
        await home.stop()
    assert home.violations == []


@run_async
async def test_no_downgrade_and_an_upgrade_only_through_a_profile_that_connects(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    plain, secure = CsmsSimulator(password=PASSWORD), CsmsSimulator(password=PASSWORD, tls=ca)
    url_plain, url_secure = await plain.start(), await secure.start()
    try:
        async with station(url_plain, tmp_path) as service:
            await _booted(plain, service)
            higher = await _set(plain, "SecurityCtrlr", "SecurityProfile", "2")
            assert higher["attribute_status"] == "Rejected"  # only with a network profile
            early = await plain.peer(STATION).call(call.SetNetworkProfile(configuration_slot=1,
                                                                          connection_data=_profile(url_secure, 2)))
            assert early.status == "Rejected" and early.status_info["reason_code"] == "InvalidNetworkConf"  # no root
            installed = await plain.peer(STATION).call(call.InstallCertificate(
                certificate_type="CSMSRootCertificate", certificate=ca.root_file.read_text()))
            assert installed.status == "Accepted"
            answer = await plain.peer(STATION).call(call.SetNetworkProfile(configuration_slot=1,
                                                                           connection_data=_profile(url_secure, 2)))
            assert answer.status == "Accepted"
            await _set(plain, "OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0")
            await _booted(secure, service)

            down = await _set(secure, "SecurityCtrlr", "SecurityProfile", "1")
            assert down["attribute_status"] == "Rejected"
            assert down["attribute_status_info"]["reason_code"] == "NoSecurityDowngrade"
            back = await _set(secure, "OCPPCommCtrlr", "NetworkConfigurationPriority", "0")
            assert back["attribute_status"] == "Rejected"
            assert back["attribute_status_info"]["reason_code"] == "NoSecurityDowngrade"
            lower = await secure.peer(STATION).call(call.SetNetworkProfile(configuration_slot=2,
                                                                           connection_data=_profile(url_plain, 1)))
            assert lower.status == "Rejected" and lower.status_info["reason_code"] == "NoSecurityDowngrade"
            same = await _set(secure, "SecurityCtrlr", "SecurityProfile", "2")
            assert same["attribute_status"] == "Accepted"
            got = await secure.get_variables(STATION, [_variable("SecurityCtrlr", "SecurityProfile")])
            assert got.get_variable_result[0]["attribute_value"] == "2"
            await asyncio.sleep(0.3)
            assert service.accepted and service.network.active_slot == 1
    finally:
        await plain.stop()
        await secure.stop()
    assert plain.violations == [] and secure.violations == []


def test_the_floor_is_kept_across_a_restart_and_slot_0_is_the_configuration(tmp_path):
    path = tmp_path / "store.db"
    cfg = OcppConfig(url="ws://a", security_profile=1)
    profiles = NetworkProfiles(cfg, NetworkStore(path))
    assert profiles.set_profile(0, _snake(_profile("ws://b", 1)))[1]["reason_code"] == "InvalidConfSlot"
    assert profiles.set_profile(5, _snake(_profile("ws://b", 1)))[1]["reason_code"] == "InvalidConfSlot"
    assert profiles.set_profile(1, _snake(_profile("ws://b", 2)))[1]["reason_code"] == "InvalidNetworkConf"
    assert profiles.set_profile(1, _snake(_profile("wss://b", 2)))[0] == "Accepted"
    profiles._set_priority("1,0")
    profiles.link_config()
    profiles.connected()  # the link with profile 2 came up
    again = NetworkProfiles(cfg, NetworkStore(path))
    assert again.floor == 2 and again.priority == [1, 0]
    assert again.link_config().url == "wss://b" and again.link_config().security_profile == 2
    for _ in range(10):  # slot 0 (profile 1) is below the floor now: never tried again
        again.failed()
        assert again.link_config().url == "wss://b"


def _snake(profile: dict) -> dict:
    return {"ocpp_version": profile["ocppVersion"], "ocpp_transport": profile["ocppTransport"],
            "ocpp_csms_url": profile["ocppCsmsUrl"], "message_timeout": profile["messageTimeout"],
            "security_profile": profile["securityProfile"], "ocpp_interface": profile["ocppInterface"]}
