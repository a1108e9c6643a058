"""vcan-run's qemu backends: boot the host's own Linux kernel under QEMU on the host filesystem, run COMMAND.

qemu-kvm uses hardware virtualisation where a short boot test shows that it works (on some machines /dev/kvm
exists but a guest hangs right after the kernel is unpacked); qemu-tcg emulates the CPU: it runs anywhere,
Python about ten times slower. The guest boots from an initramfs built for each run (initramfs.py with
qemu-init.sh), mounts the host's / over virtio-9p and runs guest-init.sh, the second stage it shares with the
uml backend. Serial lines: ttyS0 the kernel console (boot.log), ttyS1 COMMAND's stdout, ttyS2 its stderr.
VCAN_RUN_KERNEL picks the kernel image (default: the newest /boot/vmlinuz-* with the modules it needs),
VCAN_RUN_QEMU_CPU the emulated CPU model (default max).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import guest_run
import initramfs
import probe_cache
import unpacked_kernel
from process_control import RunRequest, Unavailable, system_tool

QEMU_NAME = "qemu-system-x86_64"
QEMU_INIT = Path(__file__).resolve().parent / "qemu-init.sh"
QBOOT = Path("/usr/share/qemu/qboot.rom")  # a firmware that boots a -kernel in a fraction of SeaBIOS's time
ROOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p"]  # what qemu-init.sh needs to mount the host's /
GUEST_MODULES = ["can", "can_raw", "can_bcm", "vcan", "veth"]  # what guest-init.sh loads with modprobe
GUEST_TOOLS = ("bash", "modprobe", "ip", "stty", "mountpoint")
KVM_BOOT_TEST_S = 20.0
READY_LINE = b"vcan-run-guest-ready"
PT_INTERP = 3


@dataclass(frozen=True)
class QemuSetup:
    qemu: str
    kernel: Path
    release: str
    root_modules: list[Path]  # insmod order
    busybox: Path

    def tested_files(self) -> list[str]:
        return [self.qemu, str(self.kernel), str(self.busybox)]


def is_static_elf(path: Path) -> bool:
    """A 64-bit ELF executable without a program interpreter (so it runs in an empty initramfs)."""
    try:
        with open(path, "rb") as file:
            header = file.read(64)
            if header[:5] != b"\x7fELF\x02":
                return False
            phoff, = struct.unpack_from("<Q", header, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
            file.seek(phoff)
            table = file.read(phentsize * phnum)
    except OSError:
        return False
    return all(struct.unpack_from("<I", table, index * phentsize)[0] != PT_INTERP for index in range(phnum))


def version_key(release: str) -> list[int]:
    return [int(number) for number in re.findall(r"\d+", release)]


def kernel_candidates() -> list[tuple[Path, str]]:
    chosen = os.environ.get("VCAN_RUN_KERNEL")
    if chosen:
        return [(Path(chosen), Path(chosen).name.removeprefix("vmlinuz-"))]
    kernels = [(path, path.name.removeprefix("vmlinuz-")) for path in Path("/boot").glob("vmlinuz-*")]
    return sorted(kernels, key=lambda kernel: version_key(kernel[1]), reverse=True)


def usable_kernel(kernel: Path, release: str) -> list[Path]:
    """The root modules' insmod order for this kernel, or raise Unavailable saying what it lacks."""
    if not os.access(kernel, os.R_OK):
        raise Unavailable(f"cannot read {kernel} (run as root, or make it readable)")
    module_dir = Path("/lib/modules") / release
    order = initramfs.load_order(module_dir, ROOT_MODULES)
    initramfs.load_order(module_dir, GUEST_MODULES)  # only to check that they exist
    return order


def find_setup() -> QemuSetup:
    """What the qemu backends need, or raise Unavailable with the first thing missing."""
    if platform.machine() != "x86_64":
        raise Unavailable(f"{QEMU_NAME} guests are set up for x86_64 hosts only (this is {platform.machine()})")
    qemu = system_tool(QEMU_NAME)
    if qemu is None:
        raise Unavailable(f"{QEMU_NAME} is not installed (apt-get install qemu-system-x86)")
    busybox = next((Path(path) for path in (os.environ.get("VCAN_RUN_BUSYBOX", ""), "/bin/busybox",
                                            "/usr/bin/busybox") if path and is_static_elf(Path(path))), None)
    if busybox is None:
        raise Unavailable("no statically linked busybox (apt-get install busybox-static)")
    missing = [tool for tool in GUEST_TOOLS if system_tool(tool) is None]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not installed (packages bash, kmod, iproute2, coreutils, "
                          "util-linux)")
    reasons = []
    for kernel, release in kernel_candidates():
        try:
            return QemuSetup(qemu, kernel, release, usable_kernel(kernel, release), busybox)
        except Unavailable as error:
            reasons.append(f"{kernel.name}: {error}")
    if not reasons:
        raise Unavailable("no kernel in /boot (apt-get install linux-image-amd64)")
    raise Unavailable("no usable kernel: " + "; ".join(reasons))


def memory_megabytes(mem: str) -> int:
    """vcan-run's --mem (bytes, or K/M/G) as QEMU's -m megabytes."""
    size = int(mem) if mem.isdigit() else int(mem[:-1]) * 1024 ** " KMG".index(mem[-1].upper())
    return max(128, size // 2**20)


def qemu_command(setup: QemuSetup, accel: str, run_dir: Path, mem: str, serials: list[str],
                 kernel_words: list[str]) -> list[str]:
    """serials[0] gets the kernel console, the others become ttyS1, ttyS2 ... in the guest."""
    # mitigations=off: a guest of our own needs none, and under emulation each one costs (page table switches)
    words = ["console=ttyS0", "panic=-1", "quiet", "mitigations=off", f"VCAN_RUN_DIR={run_dir}", *kernel_words]
    # Two CPUs: the controller and the rig run side by side (TCG gives each its own host thread).
    cpus = min(2, os.cpu_count() or 1)
    kernel = unpacked_kernel.bootable_kernel(setup.kernel, setup.release)
    command = [setup.qemu, "-accel", accel, "-m", f"{memory_megabytes(mem)}M", "-smp", str(cpus),
               "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-kernel", str(kernel),
               "-initrd", str(run_dir / "initramfs.cpio"), "-append", " ".join(words),
               "-fsdev", "local,id=host,path=/,security_model=none,multidevs=remap",
               "-device", "virtio-9p-pci,fsdev=host,mount_tag=vcanroot"]
    if QBOOT.exists():
        command += ["-bios", str(QBOOT)]
    if accel == "tcg":
        command += ["-cpu", os.environ.get("VCAN_RUN_QEMU_CPU", "max")]
    for index, path in enumerate(serials):
        command += ["-chardev", f"file,id=serial{index},path={path},append=on",
                    "-serial", f"chardev:serial{index}"]
    return command


def run(request: RunRequest, setup: QemuSetup, backend: str, mem: str, verbose: bool) -> int:
    run_dir = guest_run.scratch_directory()
    try:
        initramfs.build(run_dir / "initramfs.cpio", QEMU_INIT, setup.busybox, setup.root_modules)
        guest_run.write_request(run_dir, request, {"backend": backend, "module_base": "/lib/modules",
                                                   "stdout_device": "/dev/ttyS1", "stderr_device": "/dev/ttyS2"})
        accel = "kvm" if backend == "qemu-kvm" else "tcg"

        def kernel_command(directory: Path, stdout_fd: int, stderr_fd: int) -> list[str]:
            serials = [str(directory / "boot.log"), f"/dev/fd/{stdout_fd}", f"/dev/fd/{stderr_fd}"]
            return qemu_command(setup, accel, directory, mem, serials, [])

        return guest_run.boot(backend, request, run_dir, kernel_command, dict(os.environ), verbose)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def kvm_boot_test(setup: QemuSetup) -> tuple[bool, str]:
    """(works, why): boot a KVM guest as far as the host's root mounted; remembered for this boot."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is missing or not accessible to this user"
    remembered = probe_cache.recall("qemu-kvm", setup.tested_files())
    if remembered is not None:
        return remembered
    passed, reason = boot_until_ready(setup, "kvm", KVM_BOOT_TEST_S)
    probe_cache.remember("qemu-kvm", setup.tested_files(), passed, reason)
    return passed, reason


def boot_until_ready(setup: QemuSetup, accel: str, limit_s: float) -> tuple[bool, str]:
    run_dir = guest_run.scratch_directory()
    process = None
    started = time.monotonic()
    try:
        initramfs.build(run_dir / "initramfs.cpio", QEMU_INIT, setup.busybox, setup.root_modules)
        boot_log = run_dir / "boot.log"
        command = qemu_command(setup, accel, run_dir, "256M", [str(boot_log)], ["VCAN_RUN_PROBE=1"])
        with open(boot_log, "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True)
        while time.monotonic() - started < limit_s:
            if READY_LINE in boot_log.read_bytes():
                return True, f"a {accel.upper()} guest booted in {time.monotonic() - started:.1f} s"
            if process.poll() is not None:
                break
            time.sleep(0.1)
        text = boot_log.read_text(errors="replace")
        if process.poll() is None:
            return False, f"a {accel.upper()} guest did not boot within {limit_s:g} s: {guest_run.crash_cause(text)}"
        return False, f"a {accel.upper()} guest stopped while booting: {guest_run.crash_cause(text)}"
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)
