"""Run the real `vmtui` on a pseudo-terminal and answer its questions, as a user at a keyboard would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Sequence


def run_in_pty(
    argv: Sequence[str],
    answers: Sequence[tuple[str, str]] = (),
    *,
    env: dict[str, str],
    timeout: float = 60,
    controlling: bool = False,
) -> tuple[int, str]:
    """Run `argv` with a terminal for stdin, stdout and stderr; when the output shows a prompt, type its answer.

    `answers` are (text to wait for, what to type), in order. `controlling`: the terminal is the
    command's controlling terminal and the command its foreground job, as a shell starts it (process
    groups and SIGTTIN then apply). Returns the exit code and everything printed.
    """
    master, slave = pty.openpty()

    def take_the_terminal() -> None:
        import fcntl
        import termios

        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
        preexec_fn=take_the_terminal if controlling else None,
    )  # fmt: skip
    os.close(slave)
    out = b""
    pending = list(answers)
    answered_at = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv[0]} did not finish; it printed:\n{out.decode(errors='replace')}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk and proc.poll() is not None:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
            if pending and pending[0][0].encode() in out[answered_at:]:
                answered_at = len(out)
                os.write(master, pending.pop(0)[1].encode())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        os.close(master)
    return proc.returncode, out.decode(errors="replace")


def run_as_foreground_job(argv: Sequence[str], *, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `argv` with pipes for stdout and stderr as a terminal's foreground job: SIGINT (Ctrl-C) with its
    default meaning (a shell's background job, or pytest run from one, would pass it on ignored)."""
    import signal

    return subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def ctrl_c_and_finish(proc: subprocess.Popen[str], *, timeout: float = 60) -> tuple[str, str]:
    """Press Ctrl-C (SIGINT to `proc`) and wait for it to end; what it printed. Killed if it does not end."""
    import signal

    try:
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
