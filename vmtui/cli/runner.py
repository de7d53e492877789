"""The one way a command runs a `vmtui.ops` change, and the one way it shows the change's steps.

The change runs on a thread of its own, so that Ctrl-C becomes its cancel.

The operation gets a progress callback and a cancel Event (as in the TUI's job starter). Ctrl-C sets
the Event and waits: the operation stops at its next step, undoes what its step contract says, and
raises `UserCancelledError` (exit 130, `{"error": {"kind": "cancelled", ...}}` with --json); a
migration aborts its job, and the source keeps running. Waiting is what makes the stop clean, so a
second Ctrl-C only says how to leave, and a third leaves without waiting (`vmtui: interrupted`, 130)
for an operation stuck in a call that never returns.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from vmtui.ops.base import Progress, Step

T = TypeVar("T")

STOPPING = "vmtui: stopping after the current step…"
"""What the first Ctrl-C says, on stderr (stdout may be data)."""
AGAIN = "vmtui: still stopping; Ctrl-C once more to leave without waiting"
"""The second: a third leaves at once (the operation may then be left half done: a migration job runs on)."""


def run_op(operation: Callable[[Progress, threading.Event], T], progress: Progress) -> T:
    """Run `operation(progress, cancel)` on a thread and return what it returns, or raise what it raises.

    An operation that finished before it could see the cancel returns its result as usual: the change
    was made, and the command reports it rather than hide it behind "cancelled".
    """
    cancel = threading.Event()
    ended = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = operation(progress, cancel)
        except BaseException as exc:  # handed to the main thread, which raises it as it is
            box["error"] = exc
        finally:
            ended.set()

    threading.Thread(target=work, name="vmtui op", daemon=True).start()
    # Waiting on an Event, not on Thread.join: a join that Ctrl-C interrupted may count the thread as
    # finished while it still runs (CPython), and the result would be read before it exists.
    presses = 0
    while True:
        try:
            while not ended.wait(0.2):
                pass
            break
        except KeyboardInterrupt:
            presses += 1
            if presses >= 3:
                raise  # the error boundary reports it: `vmtui: interrupted`, 130
            cancel.set()
            sys.stderr.write((STOPPING if presses == 1 else AGAIN) + "\n")
            sys.stderr.flush()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def step_printer(as_json: bool, *, steps_are_output: bool = False) -> Progress:
    """Each step of a change as one line, the host's words literal (never markup).

    Where the result is the output (`devices`, `sriov`, `balloon set`), steps go to stderr as dim
    lines and --json prints none: stdout is the one result document. Where the steps are the output
    (the policy loops, which run until Ctrl-C), they go to stdout, with --json as JSON lines
    `{"step": TEXT, ...the step's data}`. `vmtui migrate` draws a bar of its own above these
    lines (`migrate_render`: the job's fraction, forecast and policy steps); `steps_with_spinner`
    adds a spinner for long work without a fraction (the lab).
    """

    def show(step: Step) -> None:
        if as_json:
            if steps_are_output:
                from vmtui.cli.common import emit_json

                emit_json({"step": step.text, **dict(step.data)})
            return
        from rich.console import Console

        from vmtui.cli.render import console
        from vmtui.richtext import lit

        (console() if steps_are_output else Console(stderr=True, highlight=False)).print(lit(step.text, "dim"))

    return show


@contextmanager
def steps_with_spinner(as_json: bool) -> Iterator[Progress]:
    """`step_printer` on stderr, plus on a terminal a spinner line naming the step in progress.

    For long work that cannot tell how far it is (bringing the lab up, building its image, the
    tour): each finished step stays as a line, the spinner shows the one running. With --json, or
    without a terminal, the lines alone (callers pass `as_json=False` to keep them with --json).
    """
    from rich.console import Console

    from vmtui.richtext import lit

    show = step_printer(as_json)
    console = Console(stderr=True, highlight=False)
    if as_json or not console.is_terminal:
        yield show
        return
    with console.status("working…") as status:

        def with_spinner(step: Step) -> None:
            show(step)
            status.update(lit(step.text))

        yield with_spinner
