"""One target under atheris (libFuzzer) in this process: python -m tools.fuzz.worker TARGET [libFuzzer args].

The project's modules are imported inside atheris.instrument_imports, so libFuzzer sees their branch coverage;
an exception outside the target's declared errors ends the run and leaves the input as a crash-* artifact.
"""
from __future__ import annotations

import logging
import sys


def main() -> None:
    import atheris

    name, libfuzzer_args = sys.argv[1], sys.argv[2:]
    logging.disable(logging.CRITICAL)  # drivers log every bad frame; millions of lines help nobody
    with atheris.instrument_imports(include=["controller", "tools.capture", "hil", "pymodbus", "ocpp"]):
        from tools.fuzz.targets import all_targets

        target = all_targets()[name]
        from tools.fuzz.target import guarded

        one_input = guarded(target, target.build())
    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
