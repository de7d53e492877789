"""A shell on a guest's serial console, driven from a test: `virsh console` on a pseudo-terminal.

The lab's Linux guest runs a shell on ttyS0 (vmtui/lab/image.py). A command's output is what the
console printed between two markers the shell itself works out (`$((1+1))`), so the echo of the
typed line never counts as its output. virsh is the same client `vmtui console` runs, over the same URI.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import select
import subprocess
import termios
import time

ESCAPE = b"\x1d"
"""Ctrl-]: virsh console's escape; it ends the console."""


class SerialShell:
    def __init__(self, uri: str, domain: str) -> None:
        master, slave = os.openpty()

        def controlling_terminal() -> None:
            # virsh console refuses to run without a controlling terminal.
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            ["virsh", "-c", uri, "console", "--force", domain],
            stdin=slave, stdout=slave, stderr=slave, close_fds=True, preexec_fn=controlling_terminal,
        )  # fmt: skip
        os.close(slave)
        self.master = master
        self.seen = b""

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.seen += os.read(self.master, 65536)
            except OSError:  # EIO: virsh closed the terminal
                if self.proc.poll() is not None:
                    raise AssertionError(f"virsh console ended: {self.tail()}") from None

    def tail(self) -> str:
        return self.seen[-600:].decode("utf-8", "replace")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def wait_for_shell(self, within: float) -> None:
        """Until the guest's shell answers (it boots in 3 to 20 s under TCG): Enter, then a sum it works out."""
        deadline = time.monotonic() + within
        token = secrets.token_hex(3)
        while time.monotonic() < deadline:
            self.type(f"echo {token}-$((20+22))")
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                self._read(0.1)
                if f"{token}-42".encode() in self.seen:
                    return
        raise AssertionError(f"no shell on the serial console within {within} s; it showed: {self.tail()}")

    def run(self, command: str, within: float = 60.0) -> str:
        """What `command` printed (stdout and stderr), read between two markers the shell works out."""
        token = secrets.token_hex(4)
        start, end = f"{token}-2".encode(), f"{token}-4".encode()
        mark = len(self.seen)
        self.type(f"echo {token}-$((1+1)); {command} 2>&1; echo {token}-$((2+2))")
        deadline = time.monotonic() + within
        while True:
            printed = self.seen[mark:]
            if end in printed and start in printed:
                body = printed[printed.index(start) + len(start) : printed.index(end)]
                return body.decode("utf-8", "replace").replace("\r", "")
            if time.monotonic() > deadline:
                raise AssertionError(f"{command!r} did not finish within {within} s; console: {self.tail()}")
            self._read(0.2)

    def close(self) -> None:
        try:
            os.write(self.master, ESCAPE)
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()  # our own virsh, by its process
            self.proc.wait(timeout=10)
        finally:
            os.close(self.master)
