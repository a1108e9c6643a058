"""[store] heartbeat_s sets how often the controller notes itself alive and checkpoints running sessions
(it was fixed at 5 s whatever the config said): a killed controller's downtime and energy so far are known
to within it."""
from __future__ import annotations

from types import SimpleNamespace

from controller import records
from controller.formats.events import SessionStarted
from controller.records import StoreRecorder


class FakeStore:
    def __init__(self, heartbeat_s: float):
        self.heartbeat_s = heartbeat_s
        self.heartbeats = 0
        self.progress: list[float] = []

    def heartbeat(self) -> None:
        self.heartbeats += 1

    def session_started(self, connector, evcc_id=None) -> int:
        return 7

    def session_progress(self, sid, energy_kwh, peak_kw) -> None:
        self.progress.append(energy_kwh)


def test_checkpoints_follow_the_configured_heartbeat(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(records.time, "monotonic", lambda: now[0])
    store = FakeStore(heartbeat_s=1.0)
    recorder = StoreRecorder(store)
    recorder(SessionStarted(session_id="s1", connector=1, evcc_id="", start_t=1000.0, end_t=None, energy_kwh=0.0,
                            peak_kw=0.0, stop_reason="", fault_codes=(), energy_source="modules",
                            meter_start_wh=None))
    connector = SimpleNamespace(cfg=SimpleNamespace(id=1), session=SimpleNamespace(energy_wh=500.0, peak_w=9000.0))
    for _ in range(31):  # 3 s in steps of 0.1 s
        recorder.progress([connector])
        now[0] += 0.1
    assert store.heartbeats == 4 and store.progress == [0.5] * 4  # at 0, 1, 2 and 3 s (not once per 5 s)
