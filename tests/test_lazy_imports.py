"""A cabinet without [ocpp] never loads the OCPP stack: ocpp, websockets and jsonschema cost about 8 MB of RSS
and 0.7 s of start-up, against a 60 MB / 0.5 s budget (make bench measures both)."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

PRINT_OCPP_STACK = ("print(sorted(m for m in ('ocpp', 'websockets', 'jsonschema', 'controller.ocpp') "
                    "if m in sys.modules))")


def test_starting_modules_do_not_import_the_ocpp_stack():
    code = "import sys, controller.__main__, controller.app\n" + PRINT_OCPP_STACK
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_plug_and_charge_without_ocpp_does_not_import_the_ocpp_stack_while_starting():
    """The SECCs are made in start(), after the I/O board heartbeat began: importing the OCPP stack there
    (about 0.5 s) held the loop past the board's 300 ms watchdog, a HEARTBEAT_LOST trip at every TLS start."""
    code = ("import sys\n"
            "from controller.app import ControllerApp\n"
            "from controller.formats.cabinet.config import load_config\n"
            "from hil.setup import cabinet_path\n"
            "app = ControllerApp(load_config(cabinet_path('desk'), ()))\n"
            "app._secc_tls = object()  # as build() leaves it with [v2g.tls]\n"
            "assert app._contract_validator() is not None\n" + PRINT_OCPP_STACK)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
