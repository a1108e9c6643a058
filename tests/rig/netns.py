"""The tests' face of `hil.link.netns.private_netns`: a machine that cannot make a namespace skips the test;
a namespace that was made but could not be set up fails it."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from hil.link import netns


@contextmanager
def private_netns() -> Iterator[list[str]]:
    with ExitStack() as stack:
        try:
            prefix = stack.enter_context(netns.private_netns())
        except netns.NetnsSetupFailed:
            raise
        except netns.NetnsUnavailable as exc:
            pytest.skip(f"separate-process tier skipped: {exc}")
        yield prefix  # outside the try: an error in the test body is never turned into a skip
