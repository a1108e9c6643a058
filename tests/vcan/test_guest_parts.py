"""The pieces of vcan-run's guest backends that need no guest: module order, initramfs, kernel, crash line."""

from __future__ import annotations

import lzma
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "vcan"))

import guest_run  # noqa: E402
import initramfs  # noqa: E402
import unpacked_kernel  # noqa: E402
from process_control import Unavailable  # noqa: E402

MODULES_DEP = """kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/can/vcan.ko.xz: kernel/drivers/net/can/dev/can-dev.ko.xz
kernel/drivers/net/can/dev/can-dev.ko.xz:
"""


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    (tmp_path / "modules.dep").write_text(MODULES_DEP)
    (tmp_path / "modules.builtin").write_text("kernel/drivers/virtio/virtio.ko\n")
    return tmp_path


def test_modules_load_dependencies_first_and_builtins_not_at_all(module_dir: Path) -> None:
    order = initramfs.load_order(module_dir, ["9p", "9pnet_virtio", "can-dev"])

    names = [path.relative_to(module_dir).as_posix() for path in order]
    assert names == ["kernel/net/9p/9pnet.ko", "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko",
                     "kernel/fs/9p/9p.ko", "kernel/net/9p/9pnet_virtio.ko",
                     "kernel/drivers/net/can/dev/can-dev.ko.xz"]


def test_a_missing_module_says_which(module_dir: Path) -> None:
    with pytest.raises(Unavailable, match=f"kernel module virtio_pci not found in {module_dir}"):
        initramfs.load_order(module_dir, ["virtio_pci"])


def read_cpio(data: bytes) -> dict[str, tuple[int, bytes, tuple[int, int]]]:
    """name -> (mode, content, device) of a newc archive, up to its trailer."""
    entries, offset = {}, 0
    while True:
        assert data[offset:offset + 6] == b"070701"
        fields = [int(data[offset + 6 + 8 * i: offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_start = offset + 110
        name = data[name_start:name_start + name_size - 1].decode()
        content_start = name_start + name_size + (-(name_start + name_size) % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data[content_start:content_start + size], (fields[9], fields[10]))
        offset = content_start + size + (-(content_start + size) % 4)


def test_initramfs_holds_busybox_the_modules_in_order_and_the_init(tmp_path: Path) -> None:
    busybox, init = tmp_path / "busybox", tmp_path / "init.sh"
    busybox.write_bytes(b"\x7fELF busybox")
    init.write_text("#!/bin/busybox sh\n")
    plain, packed = tmp_path / "a.ko", tmp_path / "b-c.ko.xz"
    plain.write_bytes(b"module a")
    packed.write_bytes(lzma.compress(b"module b", format=lzma.FORMAT_XZ))

    initramfs.build(tmp_path / "out.cpio", init, busybox, [plain, packed])

    entries = read_cpio((tmp_path / "out.cpio").read_bytes())
    assert entries["init"][1] == b"#!/bin/busybox sh\n" and entries["init"][0] & 0o111
    assert entries["bin/busybox"][1] == b"\x7fELF busybox"
    assert stat.S_ISCHR(entries["dev/console"][0]) and entries["dev/console"][2] == (5, 1)
    assert entries["modules/order"][1] == b"00-a.ko\n01-b_c.ko\n"
    assert entries["modules/01-b_c.ko"][1] == b"module b"  # unpacked: busybox insmod takes plain .ko


def test_kernel_is_unpacked_from_an_xz_bzimage_and_anything_else_left_alone() -> None:
    vmlinux = b"\x7fELF" + bytes(range(256)) * 64
    bzimage = b"MZ setup code" + bytes(300) + lzma.compress(vmlinux, format=lzma.FORMAT_XZ) + b"trailer"

    assert unpacked_kernel.unpack(bzimage) == vmlinux
    assert unpacked_kernel.unpack(b"MZ no payload here") is None
    assert unpacked_kernel.unpack(b"MZ" + lzma.compress(b"not an ELF", format=lzma.FORMAT_XZ)) is None


def test_crash_line_is_the_most_telling_line_of_the_boot_log() -> None:
    uml = ("Checking that ptrace can change system call numbers...OK\n"
           "[    0.120000] Kernel panic - not syncing: fatal_sigsegv in run_init_process\n"
           "[    0.120001] CPU: 0 PID: 1 Comm: swapper\n")
    stage_one = "qemu-system-x86_64: warning: host doesn't support pni\nvcan-run-guest: insmod 9p.ko: bad\n"

    assert guest_run.crash_cause(uml) == "Kernel panic - not syncing: fatal_sigsegv in run_init_process"
    assert guest_run.crash_cause(stage_one) == "vcan-run-guest: insmod 9p.ko: bad"
    assert guest_run.crash_cause("qemu-system-x86_64: warning: host doesn't support pni\n") == \
        "no console output (the kernel never got as far as its console)"
