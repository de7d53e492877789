"""The TUI is made of parts (issue 20): the app has no mixins, only the fleet writes what is busy, and every
action path starts its job through the one job starter."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, cast

from textual.app import App
from textual.message import Message

from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.ops.base import Progress, Step
from vmtui.tui.actions import JobStarter
from vmtui.tui.fleet import Fleet
from vmtui.tui.jobs import JobRunner
from vmtui.tui.messages import JobFinished
from vmtui.tui.ui import Ui

TUI = Path(__file__).resolve().parents[2] / "vmtui" / "tui"
APP = TUI.parent / "app.py"


def _trees() -> dict[str, ast.Module]:
    files = [*sorted(TUI.glob("*.py")), APP, *sorted((TUI.parent / "screens").glob("*.py"))]
    return {p.name if p.parent == TUI else str(p.relative_to(TUI.parent)): ast.parse(p.read_text()) for p in files}


def test_the_app_has_no_mixins() -> None:
    assert VmtuiApp.__bases__ == (App,)


def test_no_module_of_the_tui_package_defines_an_app() -> None:
    offenders = [
        f"{name}:{node.name}"
        for name, tree in _trees().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and name != "app.py"
        and any(isinstance(b, (ast.Name, ast.Attribute, ast.Subscript)) and "App" in ast.unparse(b) for b in node.bases)
    ]
    assert offenders == []


def test_only_the_fleet_touches_its_busy_state() -> None:
    private = {"_pending", "_migrating", "_incoming"}
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in _trees().items()
        if name != "fleet.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in private
    ]
    assert offenders == []


def test_every_job_starts_through_the_job_starter() -> None:
    """`JobRunner.start` is called by `JobStarter.start` only: no action path hand-writes its own."""
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in _trees().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "start"
        and ast.unparse(node.func.value).endswith("jobs")
    ]
    assert offenders == ["actions.py:" + str(_runner_call_line())]


def _runner_call_line() -> int:
    tree = _trees()["actions.py"]
    return next(
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and ast.unparse(n.func) == "self._jobs.start"
    )


class _Posts:
    """Stands in for the app where the runner posts (thread-safe in Textual; a list here)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def post_message(self, message: Message) -> bool:
        self.messages.append(message)
        return True


class _Ui:
    running = True
    top = None

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []
        self.redrawn: list[str] = []

    def say(self, message: str, *, title: str = "", severity: str = "information") -> None:
        self.said.append((message, severity))

    def redraw(self, host: str) -> None:
        self.redrawn.append(host)

    def sample_arrived(self, host: str, uuids: Collection[str]) -> None:
        """The screen on top is told when a job starts and ends (it shows the pending state)."""


def _finished(posts: _Posts) -> JobFinished:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done = [m for m in posts.messages if isinstance(m, JobFinished)]
        if done:
            return done[0]
        time.sleep(0.01)
    raise AssertionError("the job never finished")


def test_the_job_starter_refuses_marks_runs_reports_clears_and_redraws() -> None:
    posts, ui = _Posts(), _Ui()
    fleet = Fleet([("kvm1", False)])
    runner = JobRunner(cast(App[Any], posts))
    starter = JobStarter(runner, fleet, connector=lambda _e: None, ui=cast(Ui, ui), pollers={})  # type: ignore[arg-type,return-value]
    release = threading.Event()

    def operation(_p: Progress, _c: threading.Event) -> object:
        release.wait(5)
        return None

    job = starter.start("kvm1", "u1", "Pause web", operation, pending="pausing…")
    assert job is not None
    assert (fleet.pending("u1"), ui.redrawn) == ("pausing…", ["kvm1"])
    # A second start on the busy domain is refused with the fleet's words, said once, and starts nothing.
    assert starter.start("kvm1", "u1", "Resume web", operation, pending="resuming…") is None
    assert ui.said == [("Resume web: pausing… still running", "warning")]
    assert list(runner.jobs) == [job.job_id]
    release.set()
    message = _finished(posts)
    assert job.thread is not None
    assert job.thread.daemon  # a libvirt call hung on a frozen host never holds the exit
    runner.finished(message.job_id)
    starter.finished(message)
    assert fleet.pending("u1") is None
    assert ui.said[-1] == ("Pause web: done", "information")
    assert ui.redrawn == ["kvm1", "kvm1"]


def test_a_host_entry_is_what_the_starter_connects_with() -> None:
    posts, ui = _Posts(), _Ui()
    opened: list[str] = []

    class _Conn:
        def __enter__(self) -> _Conn:
            return self

        def __exit__(self, *_exc: object) -> None:
            opened.append("closed")

    def connector(entry: HostEntry) -> _Conn:
        opened.append(entry.name)
        return _Conn()

    runner = JobRunner(cast(App[Any], posts))
    starter = JobStarter(runner, Fleet([("kvm1", False)]), connector, cast(Ui, ui), {})  # type: ignore[arg-type]
    starter.run(HostEntry("kvm1", "qemu+ssh://kvm1/system"), None, "Balloon policy step on kvm1", lambda c, p, x: 42)
    assert _finished(posts).result == 42
    assert opened == ["kvm1", "closed"]


async def test_a_reading_that_arrives_after_the_app_closed_is_dropped_quietly() -> None:
    """A KSM reading (or a job's end) posted by a thread can reach the app after its screens are gone: it
    once raised ScreenStackError, and the user saw "vmtui: internal error" as they quit."""
    from vmtui.ops.ksm import KsmStatus
    from vmtui.tui.messages import KsmSampled

    app = VmtuiApp([HostEntry("kvm1", "test:///default")], interval=0.5)
    async with app.run_test(size=(80, 24)):
        pass
    assert app.screen_stack == []
    app.memory.ksm_sampled(KsmSampled("kvm1", cast(KsmStatus, None), None))
    assert len(app.memory.ksm_history["kvm1"]) == 1


def test_a_clone_s_progress_shows_in_its_row_and_other_jobs_keep_their_word() -> None:
    """`progress_in_row` (a clone's copies): each step's fraction follows the pending word; without it the
    row keeps its word (a backup's steps have fractions too)."""
    posts, ui = _Posts(), _Ui()
    fleet = Fleet([("kvm1", False)])
    runner = JobRunner(cast(App[Any], posts))

    class _Conn:
        def __enter__(self) -> _Conn:
            return self

        def __exit__(self, *_exc: object) -> None:
            pass

    starter = JobStarter(runner, fleet, lambda _e: _Conn(), cast(Ui, ui), {})  # type: ignore[arg-type,return-value]
    release = threading.Event()
    entry = HostEntry("kvm1", "qemu+ssh://kvm1/system")
    cloning = starter.run(entry, "u1", "clone", lambda c, p, x: release.wait(5), pending="cloning…",
                          progress_in_row=True)  # fmt: skip
    backing = starter.run(entry, "u2", "back up", lambda c, p, x: release.wait(5), pending="backing up…")
    assert cloning is not None
    assert backing is not None
    starter.progressed(cloning, Step("copying vda", fraction=0.5))
    starter.progressed(backing, Step("copying vda", fraction=0.5))
    starter.progressed(cloning, Step("defining", fraction=None))  # no fraction: the last one stays
    assert (fleet.pending("u1"), fleet.pending("u2")) == ("cloning… 50%", "backing up…")
    release.set()
