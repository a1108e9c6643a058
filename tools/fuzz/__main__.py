"""make fuzz: python -m tools.fuzz [--seconds N] [--workdir DIR] [TARGET ...]

Runs each target (all by default) for N seconds under atheris, one after the other, and prints executions,
coverage (libFuzzer's edge counter over the instrumented project modules), corpus size, peak RSS and findings.
A finding is a minimised input under WORKDIR/<target>/findings; check it into tests/fuzz/corpus/<target>/ with
the fix, so `make test` replays it. Exit status 1 when any target found something, 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_WORKDIR = Path("test-artifacts") / "fuzz"


def main(argv: list[str] | None = None) -> int:
    from tools.fuzz.targets import all_targets

    targets = all_targets()
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"default: all ({', '.join(targets)})")
    parser.add_argument("--seconds", type=float, default=600.0, help="per target (default 600)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="corpus and findings per target")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--timeout", type=int, default=10, help="seconds per input before it is a hang finding")
    parser.add_argument("--list", action="store_true", help="list the targets and what each drives")
    args = parser.parse_args(argv)
    if args.list:
        for target in targets.values():
            print(f"{target.name:14} {target.what}")
        return 0
    unknown = [name for name in args.targets if name not in targets]
    if unknown or args.seconds <= 0:
        print(f"error: unknown target(s) {', '.join(unknown)}; known: {', '.join(targets)}" if unknown
              else "error: --seconds must be positive", file=sys.stderr)
        return 2
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("error: atheris is not installed: .venv/bin/pip install -c constraints.txt -e '.[fuzz]'",
              file=sys.stderr)
        return 2
    from tools.fuzz.runner import run_target

    print(f"{'target':14} {'executions':>11} {'cov':>6} {'ft':>6} {'corpus':>7} {'rss MB':>7}  findings", flush=True)
    found = 0
    for name in args.targets or list(targets):
        report = run_target(targets[name], args.seconds, args.workdir / name, rss_limit_mb=args.rss_limit_mb,
                            timeout_s=args.timeout)
        found += len(report.findings) + (1 if report.errors and not report.findings else 0)
        print(f"{name:14} {report.executions:>11} {report.coverage:>6} {report.features:>6} {report.corpus:>7} "
              f"{report.peak_rss_mb:>7}  {len(report.findings)}", flush=True)
        for path in report.findings:
            print(f"    finding: {path}")
        for error in report.errors:
            print(f"    {error}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
