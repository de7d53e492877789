"""Scenarios of ../shared/RELIABILITY.md that need no host: libvirt-python missing, errors mapped to what
a user should read, callbacks that raise. (The others run on the real stack: see the README's table.)"""

from __future__ import annotations

import subprocess
import sys

import libvirt
import pytest

from vmtui.drivers.libvirt.connection import convert_error, init_libvirt
from vmtui.errors import ConnectError, DeniedError, NotFoundError, OperationError


def _error(code: int, message: str) -> libvirt.libvirtError:
    """A libvirtError as libvirt raises it (the Python binding reads code and message from `err`)."""
    exc = libvirt.libvirtError(message)
    exc.err = (code, 0, message, 0, "", None, None, 0, 0)
    return exc


def test_29_without_libvirt_python_one_line_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['libvirt'] = None\n"  # what an interpreter without the binding sees
        "sys.argv = ['vmtui', 'list', '-c', 'test:///default']\n"
        "from vmtui.cli import main; main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "libvirt-python is not usable" in proc.stderr
    assert "install python3-libvirt, or libvirt-dev + pkg-config + gcc + python3-dev" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (libvirt.VIR_ERR_ACCESS_DENIED, DeniedError, "denied by qemu:///system"),  # 8: ACL denies one API
        (libvirt.VIR_ERR_OPERATION_DENIED, DeniedError, "is read-only"),  # 7
        (libvirt.VIR_ERR_NO_DOMAIN, NotFoundError, "domain not found on qemu:///system"),  # 10
        (libvirt.VIR_ERR_OPERATION_INVALID, OperationError, "suspend 'web' on qemu:///system: domain is not running"),
        (libvirt.VIR_ERR_SYSTEM_ERROR, OperationError, "on qemu:///system"),  # a disk QEMU cannot open: not a link
        (libvirt.VIR_ERR_RPC, ConnectError, "cannot connect to qemu:///system"),
    ],
)
def test_libvirt_errors_become_what_the_user_should_read(code: int, kind: type, words: str) -> None:
    err = convert_error(_error(code, "domain is not running"), uri="qemu:///system", action="suspend 'web'")
    assert isinstance(err, kind)
    assert words in err.message


def test_26_27_the_event_loop_is_registered_once_and_survives_a_raising_callback() -> None:
    """Registering twice is a no-op; a callback that raises is logged, never let into libvirt's loop."""
    from vmtui.drivers.libvirt.driver import Connection

    init_libvirt()
    init_libvirt()  # idempotent: libvirt's loop cannot be registered again
    got: list[str] = []
    with Connection("test:///default") as conn:

        def boom(uuid: str, event: str, detail: int) -> None:
            got.append(event)
            raise RuntimeError("a bug in a callback")

        conn.on_lifecycle(boom)
        conn.lifecycle("test", "suspend")
        conn.lifecycle("test", "resume")
        import time

        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert got[:2] == ["suspended", "resumed"]  # the second event came: the first raise did no harm
