"""The technicians' serial console (115200 8N1 by default; picocom, screen, minicom or charger-console).

Wiring in the controller, when `config.console.port` is set:
    console = ConsoleServer(AppCabinetView(app), config.console)   # what the console may see and ask
    await console.start()   # after the connectors exist; returns at once, retries a missing port
    ...
    await console.stop()

`port` is a device path, a pyserial URL (socket://, rfc2217://) or `pty:PATH` (a new pseudo-terminal
linked at PATH, for the rig and tests). Files: server.py (port life cycle, input path), serial_link.py
(non-blocking I/O), flow_limits.py (input budget, output cap), line_editor.py, auth.py (roles, PINs,
lockout), session.py (one line -> one answer, JSON mode, recording), registry.py, commands/ (by topic),
cabinet_view.py (the typed view of the controller that commands use; never the app).
"""
from controller.console.server import ConsoleServer

__all__ = ["ConsoleServer"]
