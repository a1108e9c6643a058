"""A cabinet without [ocpp] never loads the OCPP stack: ocpp, websockets and jsonschema cost about 8 MB of RSS
and 0.7 s of start-up, against a 60 MB / 0.5 s budget (make bench measures both)."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)


def test_starting_modules_do_not_import_the_ocpp_stack():
    code = ("import sys, controller.__main__, controller.app\n"
            "print(sorted(m for m in ('ocpp', 'websockets', 'jsonschema', 'controller.ocpp') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
