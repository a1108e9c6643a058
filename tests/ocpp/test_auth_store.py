"""The authorization cache's lifetime and expiry, and the local list's rules, without a link."""
from __future__ import annotations

import pytest

from controller.ocpp.auth_cache import MAX_ENTRIES, AuthCache
from controller.ocpp.local_list import LocalAuthList
from controller.store.ocpp_auth import AuthStore

pytestmark = pytest.mark.timeout(10)

CARD = {"idToken": "04A1B2C3", "type": "ISO14443"}


def test_a_cached_token_is_forgotten_a_lifetime_after_its_last_use(tmp_path):
    cache = AuthCache(AuthStore(tmp_path / "s.db"))
    cache.remember(CARD, {"status": "Accepted"}, now=1000.0)
    assert cache.lookup(CARD, 1050.0, lifetime_s=100) == {"status": "Accepted"}  # used: lifetime from here
    assert cache.lookup(CARD, 1140.0, lifetime_s=100) == {"status": "Accepted"}
    assert cache.lookup(CARD, 1241.0, lifetime_s=100) is None
    assert len(AuthCache(AuthStore(tmp_path / "s.db"))) == 0  # forgotten on disk too


def test_past_the_csms_expiry_a_cached_token_is_expired():
    cache = AuthCache(AuthStore())
    cache.remember(CARD, {"status": "Accepted", "cacheExpiryDateTime": "1970-01-01T00:10:00Z"}, now=0.0)
    assert cache.lookup(CARD, 599.0, lifetime_s=10_000)["status"] == "Accepted"
    assert cache.lookup(CARD, 601.0, lifetime_s=10_000)["status"] == "Expired"


def test_the_same_value_of_another_type_is_another_token():
    cache = AuthCache(AuthStore())
    cache.remember(CARD, {"status": "Accepted"}, now=0.0)
    assert cache.lookup({"idToken": "04A1B2C3", "type": "KeyCode"}, 1.0, lifetime_s=100) is None


def test_a_full_cache_drops_the_least_recently_used():
    cache = AuthCache(AuthStore())
    for i in range(MAX_ENTRIES):
        cache.remember({"idToken": f"T{i}", "type": "Local"}, {"status": "Accepted"}, now=float(i))
    cache.lookup({"idToken": "T0", "type": "Local"}, float(MAX_ENTRIES), lifetime_s=1e6)  # T0 used again
    cache.remember(CARD, {"status": "Accepted"}, now=float(MAX_ENTRIES + 1))
    assert len(cache) == MAX_ENTRIES
    assert cache.lookup({"idToken": "T1", "type": "Local"}, 0.0, lifetime_s=1e6) is None
    assert cache.lookup({"idToken": "T0", "type": "Local"}, 0.0, lifetime_s=1e6) is not None


def test_local_list_versions():
    local = LocalAuthList(AuthStore())
    assert local.update(0, "Full", []) == "Failed"
    assert local.update(5, "Full", [{"idToken": CARD, "idTokenInfo": {"status": "Blocked"}}]) == "Accepted"
    assert local.update(2, "Full", []) == "Accepted" and local.version == 2 and len(local) == 0  # full: any version
    assert local.update(2, "Differential", [{"idToken": CARD, "idTokenInfo": {"status": "Accepted"}}]) \
        == "VersionMismatch"
    assert local.lookup(CARD) is None and local.version == 2


def test_a_token_shown_before_the_plug_in_waits_ev_connection_timeout_then_frees_the_connector():
    import asyncio
    from types import SimpleNamespace

    from controller.ocpp.identification import EV_CONNECTION_TIMEOUT_S, Identification

    class Yes:
        async def check(self, id_token):
            return SimpleNamespace(accepted=True, source="test", info={"status": "Accepted"})

    now = [0.0]
    connectors = {cid: SimpleNamespace(cfg=SimpleNamespace(id=cid), state="available", is_authorized=lambda: False)
                  for cid in (1, 2)}
    granted = []
    for connector in connectors.values():
        connector.authorize = lambda cid=connector.cfg.id: granted.append(cid)
    desk = Identification(Yes(), connectors, {}, lambda payload: None, clock=lambda: now[0])
    assert asyncio.run(desk.present({"idToken": "A", "type": "Local"})).connector == 1
    assert asyncio.run(desk.present({"idToken": "B", "type": "Local"})).connector == 2  # 1 is promised to A
    now[0] = EV_CONNECTION_TIMEOUT_S + 1
    assert asyncio.run(desk.present({"idToken": "C", "type": "Local"})).connector == 1  # A's car never came
    desk.transaction_started(2)  # B's wait is over too: not granted
    desk.transaction_started(1)
    assert granted == [1]
