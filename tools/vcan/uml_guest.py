"""vcan-run's uml backend: boot Debian's user-mode-linux kernel on the host filesystem and run COMMAND there.

The guest's PID 1 is guest-init.sh (copied into the run directory under /tmp, see guest_run.py). Two UML
serial lines mapped to host pipes carry COMMAND's output: ttyS0 its stdout, ttyS1 its stderr; the kernel's
own console goes to boot.log in the run directory. Some host kernels make UML crash at once (Linux 6.18 ends
it in fatal_sigsegv): a short boot test, remembered for this boot, finds that before a real run.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import time
from pathlib import Path

import guest_run
import probe_cache
from process_control import RunnerError, RunRequest, Unavailable, system_tool

UML_MODULES = Path(os.environ.get("VCAN_RUN_UML_MODULES", "/usr/lib/uml/modules"))
PR_SET_CHILD_SUBREAPER = 36
BOOT_TEST_S = 30.0


def find_kernel() -> str:
    """The user-mode-linux kernel able to give vcan, or raise Unavailable."""
    if os.environ.get("VCAN_RUN") == "uml":
        raise Unavailable("already inside vcan-run's UML guest, which cannot nest")
    chosen = os.environ.get("VCAN_RUN_UML")
    candidates = [chosen] if chosen else ["/usr/bin/linux.uml", shutil.which("linux.uml") or ""]
    kernel = next((path for path in candidates if path and os.access(path, os.X_OK)), None)
    if kernel is None:
        raise Unavailable("user-mode-linux is not installed")
    if not any(UML_MODULES.glob("*/kernel/drivers/net/can/vcan.ko*")):
        raise Unavailable(f"no vcan module for user-mode-linux under {UML_MODULES}")
    missing = [tool for tool in ("modprobe", "ip", "stty", "mountpoint") if system_tool(tool) is None]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not installed (packages kmod, iproute2, coreutils, util-linux)")
    return kernel


def boot_test(kernel: str, python: str) -> tuple[bool, str]:
    """(boots, why): run `true` in a guest; the verdict is remembered for this boot of the host."""
    remembered = probe_cache.recall("uml", [kernel])
    if remembered is not None:
        return remembered
    started = time.monotonic()
    request = RunRequest(command=["true"], environment=dict(os.environ), interfaces=1, bus_logs=[], python=python,
                         timeout=BOOT_TEST_S, deadline=started + BOOT_TEST_S)
    try:
        status = run(request, kernel, "256M", verbose=False)
        passed, reason = status == 0, f"a UML guest ran a command in {time.monotonic() - started:.1f} s"
        if status != 0:
            reason = f"`true` exited {status} in a UML guest"
    except RunnerError as error:
        passed, reason = False, str(error).removeprefix("uml: ")
    probe_cache.remember("uml", [kernel], passed, reason)
    return passed, reason


def run(request: RunRequest, kernel: str, mem: str, verbose: bool) -> int:
    run_dir = guest_run.scratch_directory()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        guest_run.write_request(run_dir, request, {"backend": "uml", "module_base": str(UML_MODULES),
                                                   "stdout_device": "/dev/ttyS0", "stderr_device": "/dev/ttyS1"})

        def kernel_command(directory: Path, stdout_fd: int, stderr_fd: int) -> list[str]:
            return [kernel, f"mem={mem}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "rw",
                    f"init={directory}/init", f"uml_dir={directory}", "umid=guest", "con=null", "con0=null,fd:1",
                    "ssl=null", f"ssl0=null,fd:{stdout_fd}", f"ssl1=null,fd:{stderr_fd}",
                    f"VCAN_RUN_DIR={directory}"]

        environment = os.environ | {"TMPDIR": memory_directory(mem, run_dir)}
        return guest_run.boot("uml", request, run_dir, kernel_command, environment, verbose)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def memory_directory(mem: str, run_dir: Path) -> str:
    """Where UML keeps its memory file: /dev/shm (tmpfs, boots faster) when it can hold all of it."""
    size = int(mem) if mem.isdigit() else int(mem[:-1]) * 1024 ** " KMG".index(mem[-1].upper())
    try:
        shm = os.statvfs("/dev/shm")
    except OSError:
        return str(run_dir)
    usable = shm.f_bavail * shm.f_frsize >= 2 * size and not shm.f_flag & os.ST_NOEXEC  # UML maps it executable
    return "/dev/shm" if usable else str(run_dir)

