"""The QEMU guest's initramfs: busybox, the kernel modules that reach the host's root, and qemu-init.sh.

Written as a plain "newc" cpio archive (the format the kernel unpacks; uncompressed, which an emulated CPU
unpacks fastest). Modules come from the host's /lib/modules/RELEASE in dependency order (modules.dep);
those built into the kernel (modules.builtin) are left out.
"""

from __future__ import annotations

import gzip
import lzma
import stat
from pathlib import Path

from process_control import Unavailable

NEWC_MAGIC = b"070701"


def module_name(path: str) -> str:
    """kernel/net/9p/9pnet_virtio.ko.xz -> 9pnet_virtio (modprobe treats - and _ alike)."""
    return Path(path).name.split(".ko")[0].replace("-", "_")


def read_module_index(module_dir: Path) -> tuple[dict[str, tuple[str, list[str]]], set[str]]:
    """({name: (path, [dependency names])}, builtin names) of one kernel's module directory."""
    try:
        dep_lines = (module_dir / "modules.dep").read_text().splitlines()
    except OSError as error:
        raise Unavailable(f"cannot read {module_dir / 'modules.dep'}: {error.strerror}") from None
    index: dict[str, tuple[str, list[str]]] = {}
    for line in dep_lines:
        path, _, dependencies = line.partition(":")
        index[module_name(path)] = (path, [module_name(dependency) for dependency in dependencies.split()])
    try:
        builtin = {module_name(line) for line in (module_dir / "modules.builtin").read_text().splitlines()}
    except OSError:
        builtin = set()
    return index, builtin


def load_order(module_dir: Path, wanted: list[str]) -> list[Path]:
    """The module files to insmod, dependencies first, for the wanted modules (built-in ones need nothing)."""
    index, builtin = read_module_index(module_dir)
    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in index:
            raise Unavailable(f"kernel module {name} not found in {module_dir}")
        path, dependencies = index[name]
        for dependency in dependencies:
            visit(dependency)
        order.append(module_dir / path)

    for name in wanted:
        visit(name.replace("-", "_"))
    return order


def module_bytes(path: Path) -> bytes:
    """busybox insmod wants plain .ko files: unpack the compressed kinds Python can read."""
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if not path.name.endswith(".ko"):
        raise Unavailable(f"{path}: cannot unpack this module format")
    return data


class Cpio:
    def __init__(self) -> None:
        self.data = bytearray()
        self.inode = 0

    def add(self, name: str, mode: int, content: bytes = b"", device: tuple[int, int] = (0, 0)) -> None:
        self.inode += 1
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, 1, 0, len(content), 0, 0, device[0], device[1], len(encoded), 0)
        self.data += NEWC_MAGIC + b"".join(b"%08X" % field for field in fields) + encoded
        self.pad()
        self.data += content
        self.pad()

    def pad(self) -> None:
        self.data += b"\0" * (-len(self.data) % 4)

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return bytes(self.data)


def build(target: Path, init_script: Path, busybox: Path, modules: list[Path]) -> None:
    archive = Cpio()
    for directory in ("bin", "dev", "proc", "host", "modules"):
        archive.add(directory, stat.S_IFDIR | 0o755)
    archive.add("dev/console", stat.S_IFCHR | 0o600, device=(5, 1))  # the kernel opens it for PID 1
    archive.add("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes())
    names = []
    for index, module in enumerate(modules):
        names.append(f"{index:02d}-{module_name(module.name)}.ko")
        archive.add(f"modules/{names[-1]}", stat.S_IFREG | 0o644, module_bytes(module))
    archive.add("modules/order", stat.S_IFREG | 0o644, "".join(f"{name}\n" for name in names).encode())
    archive.add("init", stat.S_IFREG | 0o755, init_script.read_bytes())
    target.write_bytes(archive.finish())
