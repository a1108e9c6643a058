"""A stand-in for the board's update system (RAUC, SWUpdate) in the rig: records what it was asked to install
and exits with the code it is told to, as docs/firmware-update.md's contract says.

    python -m hil.firmware_installer --record FILE --exit CODE [--version-file F --new-version V] BUNDLE

--record: one JSON line appended per call (the arguments, the bundle's size and SHA-256).
--exit 0 with --version-file: writes V there, as booting the new slot would make it the running version, and
prints version=V (the version the bundle brings).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="firmware_installer", description=__doc__.splitlines()[0])
    parser.add_argument("--record", required=True, type=Path, help="append one JSON line per call here")
    parser.add_argument("--exit", type=int, default=0, help="the exit code to give (0 installed, 1 failed, 2 refused)")
    parser.add_argument("--version-file", type=Path, help="written with --new-version on exit 0")
    parser.add_argument("--new-version", default="", help="the version the bundle brings")
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args(argv)
    try:
        data = args.bundle.read_bytes()
    except OSError as exc:
        print(f"firmware_installer: cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return 1
    entry = {"t": time.time(), "argv": sys.argv[1:] if argv is None else argv, "bundle": str(args.bundle),
             "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "exit": args.exit}
    with args.record.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    if args.exit == 0 and args.new_version:
        if args.version_file is not None:
            args.version_file.write_text(args.new_version + "\n", encoding="utf-8")
        print(f"version={args.new_version}")
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
