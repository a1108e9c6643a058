"""The guest kernel unpacked once, as the ELF vmlinux QEMU boots directly (PVH entry point).

A bzImage unpacks itself inside the guest: with an emulated CPU that costs about 7 s of every boot, while
Python's lzma unpacks Debian's XZ-compressed kernels in about a second. The result (about 65 MB) is kept in
vcan-run's cache directory, named after the image's size and mtime; where that is not possible, or the
image is not an XZ one, the bzImage is booted as it is.
"""

from __future__ import annotations

import lzma
import os
import tempfile
from pathlib import Path

import probe_cache

XZ_MAGIC = b"\xfd7zXZ\x00"
ELF_MAGIC = b"\x7fELF"


def unpack(image: bytes) -> bytes | None:
    """The vmlinux inside a bzImage whose payload is XZ, or None."""
    start = image.find(XZ_MAGIC)
    if start < 0:
        return None
    try:
        vmlinux = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(image[start:])
    except lzma.LZMAError:
        return None
    return vmlinux if vmlinux.startswith(ELF_MAGIC) else None


def bootable_kernel(kernel: Path, release: str) -> Path:
    """The unpacked vmlinux of kernel if it can be had, else kernel itself."""
    try:
        info = kernel.stat()
        cached = probe_cache.cache_file().parent / f"vmlinux-{release}-{info.st_size}-{info.st_mtime_ns}"
        if cached.exists():
            return cached
        vmlinux = unpack(kernel.read_bytes())
        if vmlinux is None:
            return kernel
        cached.parent.mkdir(parents=True, exist_ok=True)
        for old in cached.parent.glob(f"vmlinux-{release}-*"):
            old.unlink(missing_ok=True)  # an earlier build of this release
        with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False, suffix=".tmp") as temporary:
            temporary.write(vmlinux)
        os.replace(temporary.name, cached)
        return cached
    except OSError:
        return kernel
