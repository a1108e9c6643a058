"""What the guest backends (uml, qemu-kvm, qemu-tcg) share: one booted guest runs COMMAND once.

The run directory (under /tmp, seen by the guest at the same path through the host filesystem) carries the
request that guest-init.sh reads and the answers it writes (status, setup-error, timing). COMMAND's stdout and
stderr come back on two serial lines mapped to host pipes, relayed here live; the kernel's console goes to
boot.log in the run directory, so no boot noise reaches the caller.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from process_control import CANLOG, RunnerError, RunRequest, kill_group, wait_or_kill

GUEST_INIT = Path(__file__).resolve().parent / "guest-init.sh"
KERNEL_ARGUMENT = re.compile(r"[A-Za-z0-9._/+-]+")
# Lines of a boot log that say why a guest died, most telling first.
CRASH_PATTERNS = [re.compile(pattern) for pattern in (
    r"vcan-run-guest: .*", r"Kernel panic - not syncing: .*", r"fatal_sigsegv.*", r"BUG: .*",
    r"Oops: .*", r"general protection fault.*", r"qemu-system-\S+: (?!warning).*", r"Segmentation fault.*")]

# (run_dir, stdout write fd, stderr write fd) -> the kernel's command line, the fds passed to it
KernelCommand = Callable[[Path, int, int], list[str]]


def scratch_directory() -> Path:
    """A private directory whose path can go on a kernel command line (no spaces, no commas)."""
    base = tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix="vcan-run.", dir=base if KERNEL_ARGUMENT.fullmatch(base) else "/tmp"))


def nul_joined(words: list[str]) -> bytes:
    return b"".join(os.fsencode(word) + b"\0" for word in words)


def write_request(run_dir: Path, request: RunRequest, settings: dict[str, str]) -> None:
    """The files guest-init.sh reads; see its header."""
    (run_dir / "argv").write_bytes(nul_joined(request.command))
    (run_dir / "env").write_bytes(nul_joined([f"{k}={v}" for k, v in request.environment.items()]))
    (run_dir / "cwd").write_bytes(nul_joined([os.getcwd()]))
    settings = {"interfaces": str(request.interfaces), "stdout_is_tty": str(int(os.isatty(1))),
                "stderr_is_tty": str(int(os.isatty(2))), **settings}
    (run_dir / "settings").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    logs = [request.python, str(CANLOG), *(part for pair in request.bus_logs for part in pair)]
    (run_dir / "buslogs").write_bytes(nul_joined(logs) if request.bus_logs else b"")
    shutil.copyfile(GUEST_INIT, run_dir / "init")
    (run_dir / "init").chmod(0o755)


def boot(backend: str, request: RunRequest, run_dir: Path, kernel_command: KernelCommand,
         environment: dict[str, str], verbose: bool) -> int:
    """Boot the guest once, relay COMMAND's output, return its exit status (RunnerError if it gave none)."""
    guardian = start_guardian(run_dir)
    process = None
    started = time.monotonic()
    try:
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        command = kernel_command(run_dir, stdout_write, stderr_write)
        with open(run_dir / "boot.log", "ab") as boot_log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=boot_log, stderr=boot_log,
                                       pass_fds=(stdout_write, stderr_write), env=environment, cwd=run_dir,
                                       start_new_session=True)
        os.write(guardian, f"{process.pid}\n".encode())
        os.close(stdout_write)
        os.close(stderr_write)
        relays = [relay(stdout_read, sys.stdout.buffer), relay(stderr_read, sys.stderr.buffer)]
        wait_or_kill(process, request)
        kill_group(process)  # helper processes the kernel left behind, if any
        for thread in relays:
            thread.join(timeout=5)
        if verbose:
            report(run_dir, time.monotonic() - started)
        return guest_status(backend, run_dir, process.returncode)
    finally:
        if process is not None and process.returncode is None:
            kill_group(process)
        os.write(guardian, b"done\n")
        os.close(guardian)
        shutil.rmtree(run_dir, ignore_errors=True)


def relay(source: int, target: BinaryIO) -> threading.Thread:
    def copy() -> None:
        with os.fdopen(source, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                try:
                    target.write(chunk)
                    target.flush()
                except (BrokenPipeError, ValueError):
                    pass  # the caller stopped listening; keep draining so the guest never blocks

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def start_guardian(run_dir: Path) -> int:
    """Fork a watcher that cleans up if vcan-run dies (SIGKILL included) while the guest runs.

    It reads the guest's process group from a pipe only we hold open; EOF without "done" means we are gone,
    so it kills that group. Either way it removes run_dir. Returns the pipe's write end.
    """
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        try:
            os.close(write_end)
            os.setsid()  # outside both our group and the guest's: whoever kills either leaves it alive
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)  # never hold the caller's pipes open
            with os.fdopen(read_end, "rb") as pipe:
                words = pipe.read().split()
            if words and words[-1] != b"done":
                os.killpg(int(words[0]), signal.SIGKILL)
            shutil.rmtree(run_dir, ignore_errors=True)
        finally:
            os._exit(0)
    os.close(read_end)
    return write_end


def report(run_dir: Path, elapsed: float) -> None:
    boot_log = (run_dir / "boot.log").read_text(errors="replace")
    timing = (run_dir / "timing").read_text().split() if (run_dir / "timing").exists() else ["?", "?"]
    print(f"{boot_log}\nvcan-run: guest uptime at guest-init.sh start {timing[0]} s, at command start "
          f"{timing[-1]} s; whole run {elapsed:.2f} s", file=sys.stderr)


def crash_cause(boot_log: str) -> str:
    """The one line of a boot log that best says why the guest died."""
    lines = [line.strip() for line in boot_log.splitlines()]
    lines = [re.sub(r"^\[\s*\d+\.\d+\]\s*", "", line) for line in lines if line and ": warning: " not in line]
    for pattern in CRASH_PATTERNS:
        found = [match.group(0) for line in lines if (match := pattern.search(line))]
        if found:
            return found[0]
    if not lines:
        return "no console output (the kernel never got as far as its console)"
    return f"last console line: {lines[-1][:200]!r}"


def guest_status(backend: str, run_dir: Path, kernel_status: int | None) -> int:
    if (run_dir / "status").exists():
        return int((run_dir / "status").read_text())
    if (run_dir / "setup-error").exists():
        raise RunnerError(f"{backend}: guest setup failed: {(run_dir / 'setup-error').read_text().strip()}")
    cause = crash_cause((run_dir / "boot.log").read_text(errors="replace"))
    raise RunnerError(f"{backend}: the guest stopped (exit {kernel_status}) before COMMAND finished: {cause}")
