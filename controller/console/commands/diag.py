"""diag PATH: the diagnostics archive (controller/diagnostics/) written where a technician can copy it off."""
from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply
from controller.diagnostics.archive import ArchiveBuilder, ArchiveSources


async def diag(ctx: CommandContext, args: list[str]) -> Reply:
    if len(args) != 1 or not args[0]:
        raise CommandError("usage: diag PATH (a file to write, or a folder to write it in)")
    sources = ctx.cabinet.diagnostics()  # read on the loop; store reads and the file run in a thread
    reply = await asyncio.to_thread(_write, sources, args[0])
    ctx.record(f"diag: archive written to {reply.data['path']}", {"bytes": reply.data["bytes"]})
    return reply


def _write(sources: ArchiveSources, given: str) -> Reply:
    builder = ArchiveBuilder(sources)
    target = Path(given).expanduser()
    if target.is_dir():
        target = target / builder.file_name()
    folder = target.parent
    if not folder.is_dir():
        raise CommandError(f"cannot write {given[:200]}: no folder {str(folder)[:200]}")
    blob, manifest = builder.build()
    try:  # written beside it and renamed: a copy taken meanwhile is never half an archive
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".diag-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(blob)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise CommandError(f"cannot write {str(target)[:200]}: {exc.strerror or exc}") from None
    parts = ", ".join(f"{p['name']} ({p['entries']})" for p in manifest["included"])
    missing = "; ".join(f"{m['what']}: {m['why']}" for m in manifest["missing"])
    text = f"wrote {target} ({len(blob) / 1024:.1f} kB): {parts}" + (f"; missing: {missing}" if missing else "")
    return Reply(text, {"path": str(target), "bytes": len(blob), "manifest": manifest})


def register(registry: CommandRegistry) -> None:
    registry.add(Command("diag", diag, "write the diagnostics archive (tar.gz) for the firmware team", "diag PATH",
                         "PATH is a file, or a folder to put <station>-diagnostics-<time>.tar.gz in. The archive "
                         "holds the event log, the fault history, the controller's log, recent V2G captures when "
                         "recording is on ([diagnostics] capture_dir) and a manifest of what is in and what is "
                         "missing; at most [diagnostics] max_archive_kb, newest entries first.",
                         role="technician"))
