"""The `veth` fixture: two network namespaces joined by a veth pair (hil.link.netns), or one clear skip."""
from __future__ import annotations

import pytest

from hil.link.netns import VethPair, why_unavailable


@pytest.fixture
def veth():
    reason = why_unavailable()
    if reason:
        pytest.skip(f"veth link tests skipped: {reason}")
    with VethPair() as pair:
        yield pair
