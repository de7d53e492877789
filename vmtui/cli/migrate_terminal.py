"""The terminal side of a migration command: Ctrl-C must abort the job, never kill its connections.

`shield` forks before any connection so that a terminal's Ctrl-C reaches only vmtui (not the ssh
processes of qemu+ssh connections), and so that the worker dies with the command the user started;
the one runner (`vmtui.cli.runner`) turns Ctrl-C into an abort of the job while it runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from vmtui.errors import ExitCode

log = logging.getLogger("vmtui.cli.migrate")


def shield() -> None:
    """Keep a terminal's Ctrl-C away from the ssh processes of our qemu+ssh connections.

    A terminal sends SIGINT to its whole foreground process group, and the ssh processes libvirt
    starts for qemu+ssh URIs are in it: they die at once and take the connection that an abort needs
    along (`virsh migrate` then loses its connection and leaves the job running, unwatched). So the
    command forks here, before any connection: the child moves to a process group of its own and
    does all the work; this parent stays in the foreground, turns each Ctrl-C into a SIGINT for the
    child alone, and exits with the child's code.

    The child dies with the parent (`die_with`): a `kill -9` of the command the user started must
    not leave a hidden process drawing over the shell. The job itself outlives them both as what it
    is, a peer-to-peer job in the source daemon, which `vmtui migrate jobs` lists as orphaned.
    """
    if not hasattr(os, "fork"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        die_with(parent)
        os.setpgid(0, 0)
        # Out of the foreground group: writing to a terminal with `stty tostop` must not stop us.
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        return

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            os.kill(child, signal.SIGINT if signum == signal.SIGINT else signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    _pid, status = os.waitpid(child, 0)  # retried by Python after each forwarded signal (PEP 475)
    code = os.waitstatus_to_exitcode(status)
    # The child printed everything; this copy has nothing of its own to flush or clean up.
    os._exit(code if code >= 0 else 128 - code)


@contextmanager
def terminal_for_a_question() -> Iterator[None]:
    """Make this process's group the terminal's foreground while a question is asked, then give it back.

    After `shield` the worker is in a background group of its own: reading the terminal there stops it
    (SIGTTIN), and the command would hang at its question (`host drain` without `--yes`). A Ctrl-C at
    the question then also reaches the ssh processes; that is harmless, as it means "no" and nothing
    has changed yet. Outside a shielded worker (the usual case) this does nothing.
    """
    try:
        fd = sys.stdin.fileno()
        foreground = os.tcgetpgrp(fd)
    except (OSError, ValueError):  # no terminal: `confirm` does not ask then
        yield
        return
    ours = os.getpgrp()
    if foreground == ours:
        yield
        return
    os.tcsetpgrp(fd, ours)  # allowed from the background: `shield`'s worker ignores SIGTTOU
    try:
        yield
    finally:
        os.tcsetpgrp(fd, foreground)


PR_SET_PDEATHSIG = 1
"""prctl(2): the signal this process gets when the thread that forked it ends (Linux)."""


def die_with(parent: int) -> None:
    """SIGKILL this (forked) process when `parent` ends, however it ends: nothing of its own to clean up
    (the job runs on in the source daemon; its in-flight note, naming a dead pid, marks it orphaned)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: no such call; the parent's death then leaves us
        log.debug("no PR_SET_PDEATHSIG here")
    if os.getppid() != parent:  # the parent died before the call above: nobody waits for us
        os._exit(int(ExitCode.FAILED))
