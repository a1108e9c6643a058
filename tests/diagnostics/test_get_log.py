"""GetLog over a real link: the answer, every LogStatusNotification with its requestId, the upload at the
rig's upload server (PUT, POST after 405, retries, refusals) and an archive that unpacks."""
from __future__ import annotations

import asyncio
import io
import json
import tarfile
import threading

import pytest
from ocpp.v201 import call

from controller.diagnostics.archive import ArchiveSources
from controller.diagnostics.upload import UploadResult
from controller.ocpp.get_log import LogUploads
from hil.csms.upload_server import UploadServer
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(60)
WAIT_S = 20.0


class EventStore:
    def recent_events(self, limit):
        return [{"id": 1, "t": 1_800_000_000.0, "connector": 1, "kind": "phase", "message": "charging", "data": None}]

    def fault_history(self, limit):
        return []


def _sources() -> ArchiveSources:
    return ArchiveSources(STATION, {"controller": "test"}, max_bytes=256 * 1024, store=EventStore())


def _statuses(csms) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for p in csms.calls("LogStatusNotification")]


async def _get_log(csms, location: str, request_id: int = 7, log_type: str = "DiagnosticsLog", **options):
    return await csms.peer(STATION).call(call.GetLog(log={"remote_location": location}, log_type=log_type,
                                                     request_id=request_id, **options))


async def _until_final(csms, request_id: int = 7) -> list[tuple[str, int | None]]:
    final = {"Uploaded", "UploadFailure", "PermissionDenied", "BadMessage", "NotSupportedOperation"}
    await csms.wait_for(lambda: any(s in final and r == request_id for s, r in _statuses(csms)), WAIT_S)
    return [s for s in _statuses(csms) if s[1] == request_id]


@pytest.fixture
def server(tmp_path):
    upload = UploadServer(tmp_path / "uploads")
    url = upload.start()
    yield upload, url
    upload.stop()


def _unpack(path) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


@run_async
async def test_a_diagnostics_log_is_uploaded_and_unpacks(server):
    upload, url = server
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        service.diagnostics = _sources
        await csms.wait_for(lambda: service.accepted, WAIT_S)
        answer = await _get_log(csms, url, retries=0)
        assert answer.status == "Accepted" and answer.filename.startswith(f"{STATION}-diagnostics-")
        assert await _until_final(csms) == [("Uploading", 7), ("Uploaded", 7)]
        assert not csms.violations
    (saved,) = upload.saved()
    assert upload.uploads[0].method == "PUT" and upload.uploads[0].path == f"/logs/{answer.filename}"
    files = _unpack(saved)
    assert json.loads(files["manifest.json"])["station_id"] == STATION
    assert json.loads(files["events.jsonl"])["message"] == "charging"


@run_async
async def test_two_failures_then_success_within_the_retries(server):
    upload, url = server
    upload.fail_first = 2
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        service.diagnostics = _sources
        await csms.wait_for(lambda: service.accepted, WAIT_S)
        assert (await _get_log(csms, url, retries=2, retry_interval=0)).status == "Accepted"
        assert await _until_final(csms) == [("Uploading", 7), ("Uploaded", 7)]
    assert len(upload.uploads) == 3 and len(upload.saved()) == 1


@pytest.mark.parametrize("setup, retries, final, attempts", [
    ({"fail_first": 5}, 1, "UploadFailure", 2),
    ({"status": 403}, 3, "PermissionDenied", 1),
    ({"status": 400}, 3, "BadMessage", 1),
    ({"post_only": True}, 0, "Uploaded", 2),  # PUT refused (405), the same attempt POSTs
])
@run_async
async def test_the_server_s_answer_decides_the_status(server, setup, retries, final, attempts):
    upload, url = server
    for key, value in setup.items():
        setattr(upload, key, value)
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        service.diagnostics = _sources
        await csms.wait_for(lambda: service.accepted, WAIT_S)
        await _get_log(csms, url, retries=retries, retry_interval=0)
        assert await _until_final(csms) == [("Uploading", 7), (final, 7)]
    assert len(upload.uploads) == attempts


@run_async
async def test_ftp_is_not_supported_a_non_url_is_rejected_and_a_trigger_says_idle():
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        service.diagnostics = _sources
        await csms.wait_for(lambda: service.accepted, WAIT_S)
        assert (await _get_log(csms, "ftp://127.0.0.1/logs/", request_id=3)).status == "Accepted"
        assert await _until_final(csms, 3) == [("NotSupportedOperation", 3)]
        refused = await _get_log(csms, "no url at all", request_id=4)
        assert refused.status == "Rejected" and refused.status_info["reason_code"] == "InvalidURL"
        trigger = await csms.peer(STATION).call(call.TriggerMessage(requested_message="LogStatusNotification"))
        assert trigger.status == "Accepted"
        await csms.wait_for(lambda: ("Idle", None) in _statuses(csms), WAIT_S)
        assert not csms.violations


@run_async
async def test_without_diagnostics_wired_get_log_is_rejected():
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        await csms.wait_for(lambda: service.accepted, WAIT_S)
        assert (await _get_log(csms, "http://127.0.0.1:9/")).status == "Rejected"


@run_async
async def test_a_new_request_cancels_the_running_upload_and_a_trigger_tells_uploading():
    told: list[tuple[str, dict]] = []
    release = threading.Event()
    calls: list[str] = []

    def slow(url: str, body: bytes) -> UploadResult:
        calls.append(url)
        release.wait(10)
        return UploadResult(True, 201, "PUT 201")

    uploads = LogUploads(lambda action, payload: told.append((action, payload)), _sources, uploader=slow)
    assert uploads.request({"remote_location": "http://127.0.0.1:9/a/"}, "DiagnosticsLog", 1, 0, 0)[0] == "Accepted"
    for _ in range(500):
        if calls:
            break
        await asyncio.sleep(0.01)
    uploads.trigger()
    status, name, _ = uploads.request({"remote_location": "http://127.0.0.1:9/b/"}, "SecurityLog", 2, 0, 0)
    assert status == "AcceptedCanceled" and "-security-" in name
    release.set()
    for _ in range(500):
        if ("LogStatusNotification", {"status": "Uploaded", "requestId": 2}) in told:
            break
        await asyncio.sleep(0.01)
    await uploads.close()
    assert [p for _, p in told] == [{"status": "Uploading", "requestId": 1}, {"status": "Uploading", "requestId": 1},
                                    {"status": "AcceptedCanceled", "requestId": 1},
                                    {"status": "Uploading", "requestId": 2}, {"status": "Uploaded", "requestId": 2}]


def test_a_bad_time_window_is_rejected():
    uploads = LogUploads(lambda *_: None, _sources)
    status, _, info = uploads.request({"remote_location": "http://h/", "oldest_timestamp": "yesterday"},
                                      "DiagnosticsLog", 1, None, None)
    assert status == "Rejected" and info["reasonCode"] == "InvalidValue"
