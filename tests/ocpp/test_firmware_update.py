"""UpdateFirmware (L01): a signed bundle is downloaded (resumed after a cut), checked against the installed
manufacturer root, installed only when no transaction runs, and confirmed after the restart; a bad signature or
certificate never reaches the installer."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from ocpp.v201 import call

from controller.formats.cabinet.config import ConfigError, parse_config
from controller.formats.cabinet.ocpp_firmware import FirmwareConfig
from controller.store.ocpp_firmware import FirmwareStore
from hil.csms.firmware_server import FirmwareServer
from hil.csms.firmware_signing import make_firmware_pki
from tests.ocpp.harness import STATION, run_async, station_and_csms
from tests.ocpp.test_availability import SwitchableConnector

pytestmark = pytest.mark.timeout(60)
BUNDLE = bytes(range(256)) * 800  # 200 KiB: several pieces, so a cut leaves a partial file
PKI = make_firmware_pki()


def installer(tmp_path: Path, code: int = 0, version: str = "2.0.0") -> FirmwareConfig:
    version_file = tmp_path / "version"
    if not version_file.exists():
        version_file.write_text("1.0.0\n")
    return FirmwareConfig(install_command=(sys.executable, "-m", "hil.firmware_installer", "--record",
                                           str(tmp_path / "installer.jsonl"), "--exit", str(code),
                                           "--version-file", str(version_file), "--new-version", version),
                          version_file=str(version_file), download_dir=str(tmp_path / "downloads"))


def installed(tmp_path: Path) -> list[dict]:
    record = tmp_path / "installer.jsonl"
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def statuses(csms) -> list[str]:
    return [p["status"] for p in csms.calls("FirmwareStatusNotification")]


def security_events(csms) -> list[str]:
    return [p["type"] for p in csms.calls("SecurityEventNotification")]


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


async def install_root(csms, pem: str = PKI.root_pem) -> None:
    answer = await csms.peer(STATION).call(call.InstallCertificate(certificate_type="ManufacturerRootCertificate",
                                                                   certificate=pem))
    assert answer.status == "Accepted"


async def update(csms, url: str, *, request_id: int = 7, signature: str | None = None, pki=PKI,
                 retrieve: float | None = None, install: float | None = None, retries: int = 3):
    firmware = {"location": url, "retrieveDateTime": iso(retrieve or time.time()),
                "signingCertificate": pki.signing_pem, "signature": signature or pki.sign(BUNDLE)}
    if install is not None:
        firmware["installDateTime"] = iso(install)
    return await csms.peer(STATION).call(call.UpdateFirmware(request_id=request_id, firmware=firmware,
                                                             retries=retries, retry_interval=0))


async def booted(csms) -> None:
    await csms.wait_for(lambda: csms.calls("StatusNotification"), 10)


async def wait_status(csms, status: str, timeout: float = 15) -> None:
    await csms.wait_for(lambda: status in statuses(csms), timeout)


@run_async
async def test_a_signed_update_is_installed_and_confirmed_after_the_restart(tmp_path):
    server = FirmwareServer(BUNDLE)
    url = server.start()
    restarts = []
    store = tmp_path / "store.db"
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: restarts.append(1),
                                    firmware_store=FirmwareStore(store), firmware=installer(tmp_path)) as (service, csms):
            await booted(csms)
            assert csms.calls("BootNotification")[0]["chargingStation"]["firmwareVersion"] == "1.0.0"
            await install_root(csms)
            answer = await update(csms, url)
            assert answer.status == "Accepted"
            await csms.wait_for(lambda: restarts, 15)
            await wait_status(csms, "InstallRebooting")
        assert statuses(csms) == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
        assert {p["requestId"] for p in csms.calls("FirmwareStatusNotification")} == {7}
        [call_] = installed(tmp_path)
        assert call_["size"] == len(BUNDLE) and call_["bundle"].endswith(".bundle")
        assert service.firmware_updates.running_version() == "2.0.0"  # the stand-in switched the "slot"
        assert csms.violations == []
        # the next start: BootNotification FirmwareUpdate, then Installed and the security event FirmwareUpdated
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: None,
                                    firmware_store=FirmwareStore(store), firmware=installer(tmp_path)) as (_, csms2):
            await wait_status(csms2, "Installed")
            await csms2.wait_for(lambda: "FirmwareUpdated" in security_events(csms2), 10)
            boot = csms2.calls("BootNotification")[0]
        assert boot["reason"] == "FirmwareUpdate" and boot["chargingStation"]["firmwareVersion"] == "2.0.0"
        assert csms2.calls("FirmwareStatusNotification") == [{"status": "Installed", "requestId": 7}]
        assert FirmwareStore(store).load() is None and csms2.violations == []
    finally:
        server.stop()


@run_async
async def test_the_old_version_after_the_restart_is_a_failed_verification(tmp_path):
    store = FirmwareStore(tmp_path / "store.db")
    request = {"request_id": 9, "location": "http://127.0.0.1:1/x", "retrieve_at": 0.0, "install_at": None,
               "signing_certificate": PKI.signing_pem, "signature": "AA==", "attempts": 1, "retry_interval_s": 0.0}
    store.save({"request": request, "phase": "rebooting", "version_before": "1.0.0", "expected_version": "2.0.0"})
    async with station_and_csms([SwitchableConnector(1)], firmware_store=store,
                                firmware=installer(tmp_path)) as (_, csms):  # the version file still says 1.0.0
        await wait_status(csms, "InstallVerificationFailed")
        assert csms.calls("BootNotification")[0]["reason"] == "FirmwareUpdate"
    assert "FirmwareUpdated" not in security_events(csms)
    assert store.load() is None


@run_async
async def test_a_bad_signature_never_reaches_the_installer(tmp_path):
    server = FirmwareServer(BUNDLE)
    url = server.start()
    restarts = []
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: restarts.append(1),
                                    firmware=installer(tmp_path)) as (_, csms):
            await booted(csms)
            await install_root(csms)
            answer = await update(csms, url, signature=PKI.sign(BUNDLE + b"tampered"))
            assert answer.status == "Accepted"
            await wait_status(csms, "InvalidSignature")
            await csms.wait_for(lambda: "InvalidFirmwareSignature" in security_events(csms), 10)
    finally:
        server.stop()
    assert statuses(csms) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert installed(tmp_path) == [] and restarts == []
    assert list((tmp_path / "downloads").iterdir()) == []  # the bad bundle is not kept
    assert csms.violations == []


@run_async
async def test_a_signing_certificate_not_from_the_installed_root_is_refused(tmp_path):
    async with station_and_csms([SwitchableConnector(1)], restart=lambda: None,
                                firmware=installer(tmp_path)) as (_, csms):
        await booted(csms)
        no_root = await update(csms, "http://127.0.0.1:9/x")
        await install_root(csms)
        other = make_firmware_pki()
        foreign = await update(csms, "http://127.0.0.1:9/x", pki=other)
        await csms.wait_for(lambda: security_events(csms).count("InvalidFirmwareSigningCertificate") == 2, 10)
    assert no_root.status == "InvalidCertificate" and foreign.status == "InvalidCertificate"
    assert statuses(csms) == [] and installed(tmp_path) == [] and csms.violations == []


@run_async
async def test_a_download_that_fails_twice_resumes_where_it_was_cut(tmp_path):
    server = FirmwareServer(BUNDLE, failures=("status", "cut"))
    url = server.start()
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: None,
                                    firmware=installer(tmp_path)) as (_, csms):
            await booted(csms)
            await install_root(csms)
            assert (await update(csms, url, retries=3)).status == "Accepted"
            await wait_status(csms, "InstallRebooting")
    finally:
        server.stop()
    assert [r["status"] for r in server.requests] == [503, 200, 206]
    cut = server.requests[1]["sent"]
    assert 0 < cut < len(BUNDLE) and server.requests[2]["range"] == f"bytes={cut}-"
    assert installed(tmp_path)[0]["sha256"] == __import__("hashlib").sha256(BUNDLE).hexdigest()


@run_async
async def test_a_download_that_keeps_failing_is_reported_and_nothing_installed(tmp_path):
    server = FirmwareServer(BUNDLE, failures=("status", "status"))
    url = server.start()
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: None,
                                    firmware=installer(tmp_path)) as (_, csms):
            await booted(csms)
            await install_root(csms)
            assert (await update(csms, url, retries=2)).status == "Accepted"
            await wait_status(csms, "DownloadFailed")
    finally:
        server.stop()
    assert statuses(csms) == ["Downloading", "DownloadFailed"] and installed(tmp_path) == []


@run_async
async def test_the_installation_waits_for_the_transaction_and_idle_connectors_are_held(tmp_path):
    server = FirmwareServer(BUNDLE)
    url = server.start()
    busy, idle = SwitchableConnector(1), SwitchableConnector(2)
    restarts = []
    try:
        async with station_and_csms([busy, idle], restart=lambda: restarts.append(1),
                                    firmware=installer(tmp_path)) as (service, csms):
            await booted(csms)
            for state in ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check",
                          "precharge", "charging"):
                busy.move(state)
            await csms.wait_for(lambda: service.transactions, 5)
            await install_root(csms)
            assert (await update(csms, url)).status == "Accepted"
            await wait_status(csms, "InstallScheduled")
            await csms.wait_for(lambda: idle.state == "unavailable", 5)  # the EVSE not in use is held
            assert installed(tmp_path) == [] and busy.state == "charging"
            for state in ("session_end", "available"):
                busy.move(state)
            await csms.wait_for(lambda: restarts, 15)
    finally:
        server.stop()
    assert statuses(csms) == ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled", "Installing",
                              "InstallRebooting"]
    ended = max(i for i, e in enumerate(csms.traffic) if '"Ended"' in str(e["frame"]))
    installing = next(i for i, e in enumerate(csms.traffic) if '"Installing"' in str(e["frame"]))
    assert ended < installing and len(installed(tmp_path)) == 1 and restarts == [1]


@pytest.mark.parametrize("code,status", [(1, "InstallationFailed"), (2, "InstallVerificationFailed"),
                                          (7, "InstallationFailed")])
def test_an_installer_failure_is_reported_and_the_connectors_come_back(tmp_path, code, status):
    @run_async
    async def scenario():
        server = FirmwareServer(BUNDLE)
        url = server.start()
        connector, restarts = SwitchableConnector(1), []
        try:
            async with station_and_csms([connector], restart=lambda: restarts.append(1),
                                        firmware=installer(tmp_path, code)) as (service, csms):
                await booted(csms)
                await install_root(csms)
                assert (await update(csms, url)).status == "Accepted"
                await wait_status(csms, status)
                assert connector.state == "available" and connector.enabled and restarts == []
                assert service.firmware_updates.trigger() == "Accepted"
                await csms.wait_for(lambda: statuses(csms)[-1] == "Idle", 5)
        finally:
            server.stop()
        assert statuses(csms)[-3:] == ["Installing", status, "Idle"]
    scenario()


@run_async
async def test_a_second_request_cancels_the_first(tmp_path):
    server = FirmwareServer(BUNDLE)
    url = server.start()
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: None,
                                    firmware=installer(tmp_path)) as (_, csms):
            await booted(csms)
            await install_root(csms)
            first = await update(csms, url, request_id=1, retrieve=time.time() + 3600)
            await wait_status(csms, "DownloadScheduled")
            second = await update(csms, url, request_id=2)
            await wait_status(csms, "InstallRebooting")
    finally:
        server.stop()
    assert (first.status, second.status) == ("Accepted", "AcceptedCanceled")
    assert [(p["status"], p["requestId"]) for p in csms.calls("FirmwareStatusNotification")][:2] == [
        ("DownloadScheduled", 1), ("Downloading", 2)]
    assert len(installed(tmp_path)) == 1


@run_async
async def test_unsigned_unsupported_or_uninstallable_requests_are_rejected(tmp_path):
    async with station_and_csms([SwitchableConnector(1)], restart=lambda: None,
                                firmware=installer(tmp_path)) as (_, csms):
        await booted(csms)
        peer = csms.peer(STATION)
        unsigned = await peer.call(call.UpdateFirmware(request_id=1, firmware={
            "location": "http://127.0.0.1:9/x", "retrieveDateTime": iso(time.time())}))
        ftp = await update(csms, "ftp://127.0.0.1/x")
        await peer.call(call.TriggerMessage(requested_message="FirmwareStatusNotification"))
        await csms.wait_for(lambda: statuses(csms) == ["Idle"], 5)
    async with station_and_csms([SwitchableConnector(1)], restart=lambda: None) as (_, csms2):  # no installer
        await booted(csms2)
        none = await update(csms2, "http://127.0.0.1:9/x")
    assert [a.status for a in (unsigned, ftp, none)] == ["Rejected"] * 3
    assert none.status_info["reason_code"] == "NoInstaller"
    assert csms.calls("FirmwareStatusNotification") == [{"status": "Idle"}]
    assert csms.violations == [] and csms2.violations == []


def test_an_install_command_that_is_no_program_is_one_config_error():
    text = Path(__file__).resolve().parents[2].joinpath("hil/setups/desk/cabinet.toml").read_text()
    with pytest.raises(ConfigError) as error:
        parse_config(text, overrides=('ocpp.url="ws://127.0.0.1:9"', 'ocpp.firmware.install_command=["/no/such/installer"]'))
    assert str(error.value) == "config error at 'ocpp.firmware.install_command': '/no/such/installer' is not an " \
                               "executable program"


@run_async
async def test_a_download_cut_by_a_restart_resumes_at_the_next_start(tmp_path):
    server = FirmwareServer(BUNDLE)
    url = server.start()
    cfg = installer(tmp_path)
    store = FirmwareStore(tmp_path / "store.db")
    request = {"request_id": 5, "location": url, "retrieve_at": 0.0, "install_at": None,
               "signing_certificate": PKI.signing_pem, "signature": PKI.sign(BUNDLE), "attempts": 2,
               "retry_interval_s": 0.0}
    store.save({"request": request, "phase": "download"})  # the controller stopped in the middle of the download
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "firmware-5.bundle").write_bytes(BUNDLE[:1000])
    restarts = []
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: restarts.append(1), firmware_store=store,
                                    firmware=cfg, certificate_dir=str(tmp_path / "certs")) as (service, csms):
            service.security.certificates.install_root("ManufacturerRootCertificate", PKI.root_pem)
            await csms.wait_for(lambda: restarts, 15)
    finally:
        server.stop()
    assert [(r["range"], r["status"]) for r in server.requests] == [("bytes=1000-", 206)]
    assert installed(tmp_path)[0]["size"] == len(BUNDLE)
    assert [p["requestId"] for p in csms.calls("FirmwareStatusNotification")] == [5] * 5


@run_async
async def test_an_install_date_in_the_future_is_waited_for(tmp_path):
    server = FirmwareServer(BUNDLE)
    url = server.start()
    restarts = []
    try:
        async with station_and_csms([SwitchableConnector(1)], restart=lambda: restarts.append(time.time()),
                                    firmware=installer(tmp_path)) as (_, csms):
            await booted(csms)
            await install_root(csms)
            install_at = time.time() + 2.0
            assert (await update(csms, url, install=install_at)).status == "Accepted"
            await csms.wait_for(lambda: restarts, 15)
    finally:
        server.stop()
    assert statuses(csms) == ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled", "Installing",
                              "InstallRebooting"]
    assert installed(tmp_path)[0]["t"] >= int(install_at)  # installDateTime has whole seconds


def test_a_file_already_whole_is_not_fetched_again(tmp_path):
    import asyncio

    from controller.ocpp.firmware.download import download

    server = FirmwareServer(BUNDLE)
    server.start()
    part = tmp_path / "whole.bundle"
    part.write_bytes(BUNDLE)
    try:
        failure = asyncio.run(download(server.url, part, attempts=1, retry_interval_s=0, max_bytes=1 << 30))
        too_big = asyncio.run(download(server.url, tmp_path / "small.bundle", attempts=1, retry_interval_s=0,
                                       max_bytes=1000))
    finally:
        server.stop()
    assert failure is None and part.read_bytes() == BUNDLE
    assert [(r["range"], r["status"]) for r in server.requests][0] == (f"bytes={len(BUNDLE)}-", 416)
    assert too_big is not None and "more than the 1000 allowed" in too_big


@run_async
async def test_a_bundle_waiting_across_a_restart_is_verified_again_before_it_is_installed(tmp_path):
    store = FirmwareStore(tmp_path / "store.db")
    request = {"request_id": 6, "location": "http://127.0.0.1:9/x", "retrieve_at": 0.0, "install_at": None,
               "signing_certificate": PKI.signing_pem, "signature": PKI.sign(BUNDLE), "attempts": 1,
               "retry_interval_s": 0.0}
    store.save({"request": request, "phase": "install_wait", "bundle": "firmware-6-x.bundle"})
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "firmware-6-x.bundle").write_bytes(BUNDLE[:-1] + b"!")  # changed on disk meanwhile
    async with station_and_csms([SwitchableConnector(1)], restart=lambda: None, firmware_store=store,
                                firmware=installer(tmp_path), certificate_dir=str(tmp_path / "certs")) as (service, csms):
        service.security.certificates.install_root("ManufacturerRootCertificate", PKI.root_pem)
        await wait_status(csms, "InvalidSignature")
        await csms.wait_for(lambda: "InvalidFirmwareSignature" in security_events(csms), 10)
    assert statuses(csms) == ["InvalidSignature"] and installed(tmp_path) == [] and store.load() is None
