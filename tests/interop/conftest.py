"""The Josev tier's setup check: Josev's venv (`make josev`), a Java runtime for its EXI codec, and root for
the veth link. Where one is missing the tier says why in one line and is skipped; in CI (CI=true) it fails."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hil.link.netns import why_unavailable

ROOT = Path(__file__).resolve().parents[2]
JOSEV_PYTHON = ROOT / ".venv-josev" / "bin" / "python"


def josev_missing() -> str | None:
    """Why Josev cannot run here, or None."""
    if not JOSEV_PYTHON.exists():
        return f"no Josev venv at {JOSEV_PYTHON.parent.parent} (run: make josev)"
    probe = subprocess.run([str(JOSEV_PYTHON), "-c", "import iso15118.evcc, aiofile"], capture_output=True,
                           text=True, timeout=60)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"Josev does not import in {JOSEV_PYTHON.parent.parent}: {last} (run: make josev)"
    if shutil.which("java") is None:
        return "no Java runtime for Josev's EXI codec (apt-get install default-jre-headless, or make josev as root)"
    return why_unavailable()


@pytest.fixture(scope="session")
def josev() -> Path:
    reason = josev_missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Josev tier cannot run in CI: {reason}", pytrace=False)
        pytest.skip(f"Josev tier: {reason}")
    return JOSEV_PYTHON
