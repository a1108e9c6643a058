"""Command-line parsing for the project's programs: a mistake is one line on stderr and exit status 2.

argparse prints its whole usage block before the error; a technician at a serial console or a CI log reader
needs the one line that says what is wrong (the usage stays one `--help` away).
"""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn

USAGE_ERROR = 2


class OneLineArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USAGE_ERROR)
