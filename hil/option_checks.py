"""charger-hil's options checked before the rig starts: one line and exit 2 instead of a lost run.

A report or pcap into a folder that does not exist would otherwise fail only when the run ends.
"""
from __future__ import annotations

import argparse

from controller.formats.command_line_checks import can_channel, log_level, output_file

OUTPUT_OPTIONS = (("report", "--report"), ("pcap", "--pcap"), ("console_link", "--console-link"))


def check_options(args: argparse.Namespace) -> None:
    """Raise ConfigError(option, reason) for the first option that cannot work."""
    log_level(args.log_level)
    if getattr(args, "can", None):
        can_channel(args.can)
    for attribute, option in OUTPUT_OPTIONS:
        value = getattr(args, attribute, None)
        if value:
            output_file(value, option)
