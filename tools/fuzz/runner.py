"""Runs one target under atheris in a child process and reads libFuzzer's output: executions, coverage,
corpus size, peak RSS and findings (crash-, timeout- and oom- artifacts), each finding minimised."""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tools.fuzz.target import Target

PROGRESS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
FINDING_PREFIXES = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")


@dataclass
class RunReport:
    target: str
    seconds: float
    executions: int = 0
    coverage: int = 0
    features: int = 0
    corpus: int = 0
    peak_rss_mb: int = 0
    findings: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the escaped exception (or libFuzzer's reason) per finding
    exit_code: int = 0


def worker_command(target: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "tools.fuzz.worker", target, *args]


def run_target(target: Target, seconds: float, workdir: Path, *, rss_limit_mb: int = 2048, timeout_s: int = 10,
               minimize: bool = True) -> RunReport:
    corpus, seed_dir, findings = workdir / "corpus", workdir / "seeds", workdir / "findings"
    for folder in (corpus, seed_dir, findings):
        folder.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(target.seeds()):
        (seed_dir / f"seed-{index:04d}").write_bytes(seed[:target.max_len])
    before = {p.name for p in findings.iterdir()}
    args = [str(corpus), str(seed_dir), f"-max_total_time={int(seconds)}", f"-rss_limit_mb={rss_limit_mb}",
            f"-timeout={timeout_s}", f"-max_len={target.max_len}", f"-artifact_prefix={findings}/",
            "-print_final_stats=1", "-print_pcs=0"]
    proc = subprocess.run(worker_command(target.name, args), capture_output=True, text=True, errors="replace",
                          timeout=seconds + 600)
    report = RunReport(target.name, seconds, exit_code=proc.returncode)
    read_output(proc.stderr + proc.stdout, report)
    new = sorted(p for p in findings.iterdir() if p.name not in before and p.name.startswith(FINDING_PREFIXES))
    for path in new:
        report.findings.append(minimized(target, path) if minimize else path)
    if proc.returncode != 0 and not report.errors:
        report.errors.append(f"worker exited with {proc.returncode}: {tail(proc.stderr)}")
    return report


def read_output(text: str, report: RunReport) -> None:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if match := PROGRESS.match(line):
            report.executions = max(report.executions, int(match[1]))
            report.coverage, report.features, report.corpus = int(match[2]), int(match[3]), int(match[4])
        elif match := STAT.match(line):
            if match[1] == "number_of_executed_units":
                report.executions = int(match[2])
            elif match[1] == "peak_rss_mb":
                report.peak_rss_mb = int(match[2])
        elif "Uncaught Python exception" in line and index + 1 < len(lines):
            report.errors.append(lines[index + 1].strip())
        elif "ERROR: libFuzzer: " in line and "fuzz target exited" not in line:
            report.errors.append(line.split("ERROR: libFuzzer: ", 1)[1].strip())


def minimized(target: Target, path: Path) -> Path:
    """The crashing input shrunk (minimize.py) beside it as minimized-<name>; other findings stay as found."""
    if not path.name.startswith("crash-"):
        return path
    import logging

    from tools.fuzz.minimize import minimize

    logging.disable(logging.CRITICAL)
    data = path.read_bytes()
    small = minimize(target, data)
    if len(small) >= len(data):
        return path
    out = path.with_name("minimized-" + path.name)
    out.write_bytes(small)
    return out


def tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])
