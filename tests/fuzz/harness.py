"""Built fuzz targets, once per test process (the console target builds a controller, the CAN target ports)."""
from __future__ import annotations

import functools
import logging

from tools.fuzz.target import OneInput, guarded
from tools.fuzz.targets import all_targets

TARGETS = all_targets()


@functools.cache
def one_input(name: str) -> OneInput:
    target = TARGETS[name]
    return guarded(target, target.build())


def quiet_logs() -> None:
    logging.disable(logging.CRITICAL)  # a bad frame is logged; thousands of them are noise in a test log


def loud_logs() -> None:
    logging.disable(logging.NOTSET)
