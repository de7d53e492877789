"""The one way the TUI starts a job: refuse if busy, mark busy, run off the loop, report, clear, redraw.

Every action path (a lifecycle key, a console, an XML edit, a snapshot, a device or storage change,
a balloon, a migration) calls `JobStarter.run` (or `start` when the job opens its own connections):
the domain's one-job rule is checked and said here, the fleet marks the domain busy, the work runs
on a daemon thread of `JobRunner` with a connection of its own, and when `JobFinished` comes back
`finished` says how it ended (or hands the result to the caller's `After`), clears the busy mark and
redraws the host's rows and the keys. Lives on Textual's event loop, like `Fleet`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector, HostPoller
from vmtui.ops.base import Progress, Step
from vmtui.screens.fetching import FetchingScreen
from vmtui.tui.fleet import Fleet
from vmtui.tui.jobs import Job, JobRunner, Operation
from vmtui.tui.messages import JobFinished
from vmtui.tui.ui import Ui

Work = Callable[[Hypervisor, Progress, threading.Event], object]
"""A job's body: blocking, on a worker thread, with a connection of its own."""

BUSY = "another operation on it is still running"
"""Said when the domain's job lock refuses a start the fleet did not know of (a race)."""


@dataclass(frozen=True, slots=True)
class After:
    """What to do on Textual's loop when a job ends."""

    ok: Callable[[Any], None] | None = None
    failed: Callable[[str], None] | None = None
    quiet: bool = False
    """No "done" notification: the follow-up shows the result (a console, a screen)."""
    changes: bool = True
    """The job changed the domain: its facts are re-read."""


class JobStarter:
    """Starts every job of the TUI's action paths and reports their ends."""

    def __init__(
        self,
        jobs: JobRunner,
        fleet: Fleet,
        connector: Connector,
        ui: Ui,
        pollers: Mapping[str, HostPoller],
    ) -> None:
        """Args:
        pollers: the app's pollers by host (the same mapping, kept current): a job that changed a
            domain asks its host's poller for a fresh sample of it.
        """
        self._jobs = jobs
        self._fleet = fleet
        self._connector = connector
        self._ui = ui
        self._pollers = pollers
        self._after: dict[int, After] = {}
        """Job ID -> what to do on the loop when it ends (the tools' follow-ups)."""
        self._in_row: dict[int, str] = {}
        """Job ID -> its row's pending word, for jobs whose progress shows in the row (a clone's copies)."""

    def run(
        self,
        entry: HostEntry,
        uuid: str | None,
        label: str,
        work: Work,
        *,
        pending: str = "",
        after: After | None = None,
        progress_in_row: bool = False,
    ) -> Job | None:
        """Run `work` with a connection of its own to `entry` (see `start`)."""
        connector = self._connector

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with connector(entry) as conn:
                return work(conn, progress, cancel)

        job = self.start(entry.name, uuid, label, operation, pending=pending, after=after)
        if job is not None and progress_in_row and pending and uuid is not None:
            self._in_row[job.job_id] = pending
        return job

    def start(
        self,
        host: str,
        uuid: str | None,
        label: str,
        operation: Operation,
        *,
        pending: str = "",
        after: After | None = None,
    ) -> Job | None:
        """Start `operation` as a job on `host`, or say why not and return None.

        `uuid`: the domain it changes (it holds the domain's one-job lock; None for a read or a
        host-wide job). `pending`: the row's word while it runs ("pausing…"). `after`: the follow-up
        when it ends; without one, `finished` says the job's summary.
        """
        locks = uuid if after is None or after.changes else None
        why = self._fleet.busy_refusal(locks) if locks is not None else None
        job = self._jobs.start(host, locks, label, operation) if why is None else None
        if job is None:
            self._ui.say(f"{label}: {why or BUSY}", severity="warning")
            return None
        if after is not None:
            self._after[job.job_id] = after
        if pending and uuid is not None:
            self._fleet.begin(uuid, pending)
            self._ui.redraw(host)
            # The screen on top (devices, domain) shows the pending state at once, not at the job's end.
            self._ui.sample_arrived(host, (uuid,))
        return job

    def progressed(self, job: Job | None, step: Step) -> None:
        """A step of a job whose progress shows in its row: "cloning… 50%" there and on the screen on top."""
        pending = self._in_row.get(job.job_id) if job is not None else None
        if job is None or job.uuid is None or pending is None or step.fraction is None:
            return
        if self._fleet.pending(job.uuid) is None:
            return  # ended already
        self._fleet.begin(job.uuid, f"{pending} {step.fraction:.0%}")
        self._ui.redraw(job.host)
        self._ui.sample_arrived(job.host, (job.uuid,))

    def finished(self, message: JobFinished) -> None:
        """A job of `start` ended (its runner entry is gone): report, clear the busy mark, redraw."""
        self._in_row.pop(message.job_id, None)
        if message.uuid is not None:
            self._fleet.end(message.uuid)
        after = self._after.pop(message.job_id, None)
        if not self._ui.running or message.host not in self._fleet.hosts:
            return
        if after is None:
            self._say_summary(message)
        else:
            self._follow_up(after, message)
        top = self._ui.top
        if isinstance(top, FetchingScreen):
            top.refetch()
        self._ui.redraw(message.host)
        if message.uuid is not None:
            self._ui.sample_arrived(message.host, (message.uuid,))
        poller = self._pollers.get(message.host)
        if poller is not None and (after is None or after.changes):
            poller.request_refresh(message.uuid)

    def _say_summary(self, message: JobFinished) -> None:
        summary = getattr(message.result, "summary", None)
        if message.ok and callable(summary):
            # A result that says what it changed names the device and domain itself: the request's label
            # goes to the title, so that the toast's one line holds the outcome.
            title, text = f"{message.host}: {message.label}", str(summary())
        else:
            title, text = message.host, f"{message.label}: done"
        if message.ok and getattr(message.result, "ok", True) is False:
            # A device change can succeed in one half and fail in the other: that is an error to see.
            self._ui.say(text, title=title, severity="error")
        elif message.ok:
            self._ui.say(text, title=title)
        else:
            self._ui.say(f"{message.label}: {message.message}", title=message.host, severity="error")

    def _follow_up(self, after: After, message: JobFinished) -> None:
        if message.ok:
            if not after.quiet:
                self._ui.say(f"{message.label}: done", title=message.host)
            if after.ok is not None:
                after.ok(message.result)
        elif after.failed is not None:
            after.failed(message.message)
        else:
            self._ui.say(f"{message.label}: {message.message}", title=message.host, severity="error")
