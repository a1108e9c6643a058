"""diag PATH: the diagnostics archive written where a technician can copy it off, one line back."""
from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.console.test_cabinet_view import TECH_PIN, FakeCabinet, _answers

pytestmark = pytest.mark.timeout(30)


def test_diag_writes_the_archive_into_a_folder_and_says_what_went_in(tmp_path):
    cabinet = FakeCabinet()
    answers = _answers(cabinet, [f"login {TECH_PIN}", f"diag {tmp_path}"])
    line = answers[1]
    assert line.startswith(f"wrote {tmp_path}/FAKE-1-diagnostics-") and "\n" not in line, line
    assert "faults.jsonl (0)" in line and "event log: no store configured" in line
    (written,) = list(tmp_path.iterdir())  # no temporary file left beside it
    assert written.name.endswith(".tar.gz")
    with tarfile.open(written, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["station_id"] == "FAKE-1"
    assert any(a.startswith("diag: archive written to") for a in cabinet.actions)


def test_diag_to_a_file_name_and_in_json(tmp_path):
    target = tmp_path / "out.tar.gz"
    answer = _answers(FakeCabinet(), [f"login {TECH_PIN}", f"json diag {target}"])[1]
    data = json.loads(answer)["data"]
    assert data["path"] == str(target) and data["bytes"] == target.stat().st_size
    with tarfile.open(fileobj=io.BytesIO(target.read_bytes()), mode="r:gz") as tar:
        assert "manifest.json" in tar.getnames()


@pytest.mark.parametrize("path, reason", [("/no/such/folder/x.tar.gz", "no folder /no/such/folder"),
                                          ("/sys/x.tar.gz", "Permission denied")])  # even root cannot write /sys
def test_an_unwritable_path_is_one_clear_error_line(path, reason):
    answer = _answers(FakeCabinet(), [f"login {TECH_PIN}", f"diag {path}"])[1]
    assert answer.startswith("error: cannot write ") and reason in answer and "\n" not in answer, answer


def test_diag_needs_a_path_and_the_technician():
    answers = _answers(FakeCabinet(), ["diag /tmp/x.tar.gz", f"login {TECH_PIN}", "diag"])
    assert answers[0].startswith("error:") and "technician" in answers[0]
    assert answers[2] == "error: usage: diag PATH (a file to write, or a folder to write it in)"
    assert "diag PATH" in _answers(FakeCabinet(), ["help"])[0]


def test_diag_on_a_running_controller_holds_its_event_log(tmp_path):
    """The app's side (AppCabinetView.diagnostics): the store's events and the controller's log lines."""
    from tests.console.test_read_commands import run_with_console
    out = tmp_path / "diag.tar.gz"
    answers = run_with_console(tmp_path, [f"login {TECH_PIN}", f"json diag {out}"], store=True)
    data = json.loads(answers[f"json diag {out}"])["data"]
    names = {p["name"] for p in data["manifest"]["included"]}
    assert {"events.jsonl", "faults.jsonl", "controller.log"} <= names, data["manifest"]
    with tarfile.open(out, "r:gz") as tar:
        events = [json.loads(line) for line in tar.extractfile("events.jsonl").read().splitlines()]
    part = next(p for p in data["manifest"]["included"] if p["name"] == "events.jsonl")
    assert events and part["entries"] == len(events)  # the start-up's events at least
