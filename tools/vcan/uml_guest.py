"""vcan-run's uml backend: boot Debian's user-mode-linux kernel on the host filesystem and run COMMAND there.

The guest's PID 1 is uml-init.sh (copied into a run directory under /tmp). Host and guest talk through files
in that directory (hostfs) and two UML serial lines mapped to host pipes: ttyS0 carries COMMAND's stdout,
ttyS1 its stderr; the kernel's own console goes to boot.log in the run directory.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from process_control import CANLOG, RunnerError, RunRequest, Unavailable, kill_group, system_tool, wait_or_kill

UML_INIT = Path(__file__).resolve().parent / "uml-init.sh"
UML_MODULES = Path("/usr/lib/uml/modules")
KERNEL_ARGUMENT = re.compile(r"[A-Za-z0-9._/+-]+")
PR_SET_CHILD_SUBREAPER = 36


def find_kernel() -> str:
    """The user-mode-linux kernel able to give vcan, or raise Unavailable."""
    if os.environ.get("VCAN_RUN") == "uml":
        raise Unavailable("already inside vcan-run's UML guest, which cannot nest")
    candidates = [os.environ.get("VCAN_RUN_UML", ""), "/usr/bin/linux.uml", shutil.which("linux.uml") or ""]
    kernel = next((path for path in candidates if path and os.access(path, os.X_OK)), None)
    if kernel is None:
        raise Unavailable("user-mode-linux is not installed (apt-get install user-mode-linux kmod)")
    if not any(UML_MODULES.glob("*/kernel/drivers/net/can/vcan.ko*")):
        raise Unavailable(f"no vcan module for user-mode-linux under {UML_MODULES}")
    missing = [tool for tool in ("modprobe", "ip", "stty", "mountpoint") if system_tool(tool) is None]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not installed (packages kmod, iproute2, coreutils, util-linux)")
    return kernel


def run(request: RunRequest, kernel: str, mem: str, verbose: bool) -> int:
    run_dir = Path(scratch_directory())
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    guardian = start_guardian(run_dir)
    process = None
    try:
        write_request(run_dir, request)
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        kernel_command = [kernel, f"mem={mem}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw",
                          f"init={run_dir}/init", f"uml_dir={run_dir}", "umid=guest", "con=null",
                          "con0=null,fd:1", "ssl=null", f"ssl0=null,fd:{stdout_write}",
                          f"ssl1=null,fd:{stderr_write}", f"VCAN_RUN_DIR={run_dir}"]
        kernel_environment = os.environ | {"TMPDIR": memory_directory(mem, run_dir)}
        started = time.monotonic()
        with open(run_dir / "boot.log", "wb") as boot_log:
            process = subprocess.Popen(kernel_command, stdin=subprocess.DEVNULL, stdout=boot_log, stderr=boot_log,
                                       pass_fds=(stdout_write, stderr_write), env=kernel_environment,
                                       cwd=run_dir, start_new_session=True)
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
        return guest_status(run_dir)
    finally:
        if process is not None and process.returncode is None:
            kill_group(process)
        os.write(guardian, b"done\n")
        os.close(guardian)
        shutil.rmtree(run_dir, ignore_errors=True)


def scratch_directory() -> str:
    """A private directory whose path can go on the kernel command line (no spaces, no commas)."""
    base = tempfile.gettempdir()
    return tempfile.mkdtemp(prefix="vcan-run.", dir=base if KERNEL_ARGUMENT.fullmatch(base) else "/tmp")


def memory_directory(mem: str, run_dir: Path) -> str:
    """Where UML keeps its memory file: /dev/shm (tmpfs, boots faster) when it can hold all of it."""
    size = int(mem) if mem.isdigit() else int(mem[:-1]) * 1024 ** " KMG".index(mem[-1].upper())
    try:
        shm = os.statvfs("/dev/shm")
    except OSError:
        return str(run_dir)
    usable = shm.f_bavail * shm.f_frsize >= 2 * size and not shm.f_flag & os.ST_NOEXEC  # UML maps it executable
    return "/dev/shm" if usable else str(run_dir)


def nul_joined(words: list[str]) -> bytes:
    return b"".join(os.fsencode(word) + b"\0" for word in words)


def write_request(run_dir: Path, request: RunRequest) -> None:
    """The files uml-init.sh reads; see its header."""
    (run_dir / "argv").write_bytes(nul_joined(request.command))
    (run_dir / "env").write_bytes(nul_joined([f"{k}={v}" for k, v in request.environment.items()]))
    (run_dir / "cwd").write_bytes(nul_joined([os.getcwd()]))
    (run_dir / "settings").write_text(
        f"interfaces={request.interfaces}\nstdout_tty={int(os.isatty(1))}\nstderr_tty={int(os.isatty(2))}\n")
    logs = [request.python, str(CANLOG), *(part for pair in request.bus_logs for part in pair)]
    (run_dir / "buslogs").write_bytes(nul_joined(logs) if request.bus_logs else b"")
    shutil.copyfile(UML_INIT, run_dir / "init")
    (run_dir / "init").chmod(0o755)


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
    timing = (run_dir / "timing").read_text().strip() if (run_dir / "timing").exists() else "?"
    print(f"{boot_log}\nvcan-run: guest uptime at command start {timing} s, whole run {elapsed:.2f} s",
          file=sys.stderr)


def guest_status(run_dir: Path) -> int:
    if (run_dir / "status").exists():
        return int((run_dir / "status").read_text())
    if (run_dir / "setup-error").exists():
        raise RunnerError(f"guest setup failed: {(run_dir / 'setup-error').read_text().strip()}")
    tail = (run_dir / "boot.log").read_text(errors="replace").splitlines()[-15:]
    raise RunnerError("the UML guest stopped without reporting a status; end of its boot log:\n  "
                      + "\n  ".join(tail))
