"""The TUI's job runner: any operation of `vmtui.ops` on a thread of its own, with progress and cancel.

The operation gets a `progress` callback that posts `JobProgressed` from its thread and a cancel
Event the UI can set; its end (value or error) comes back as `JobFinished`. One job at a time per
domain: `start` refuses a second one while the first runs (the fleet shows it as pending). Every
action path starts its job through `vmtui.tui.actions.JobStarter`, which calls `start`.

Jobs run on daemon threads, not Textual's thread workers: those run in asyncio's default executor,
which the interpreter waits for on exit, so a libvirt call hung on a frozen host held `q` for as long
as the call took (17 s was seen). A daemon thread is simply abandoned when the app quits.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.message import Message

from vmtui.errors import VmtuiError
from vmtui.ops.base import Progress, Step
from vmtui.tui.messages import DataFetched, JobFinished, JobProgressed

log = logging.getLogger("vmtui.jobs")

Operation = Callable[[Progress, threading.Event], Any]
"""What a job runs: blocking, on a worker thread; opens its own connections."""


@dataclass(slots=True)
class Job:
    job_id: int
    host: str
    uuid: str | None
    label: str
    """What the user asked for, with the domain's name ("Pause web1")."""
    cancel: threading.Event = field(default_factory=threading.Event)
    last: Step | None = None
    thread: threading.Thread | None = None


class JobRunner:
    """Runs operations on daemon threads, posting their progress and end to `app`; at most one per domain.

    Only `vmtui.tui.actions.JobStarter` starts jobs (it says the refusals and marks the fleet busy).
    """

    def __init__(self, app: App[Any]) -> None:
        """Args:
        app: where `JobProgressed` and `JobFinished` are posted (thread-safe).
        """
        self._app = app
        self._ids = itertools.count(1)
        self.jobs: dict[int, Job] = {}

    def busy(self, uuid: str) -> bool:
        return any(j.uuid == uuid for j in self.jobs.values())

    def start(self, host: str, uuid: str | None, label: str, operation: Operation) -> Job | None:
        """Run `operation` in a worker; None (nothing started) when the domain has a job already."""
        if uuid is not None and self.busy(uuid):
            return None
        job = Job(next(self._ids), host, uuid, label)
        self.jobs[job.job_id] = job
        job.thread = threading.Thread(target=self._run, args=(job, operation), name=f"job {label}", daemon=True)
        job.thread.start()
        return job

    def cancel(self, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job.cancel.set()

    def progressed(self, job_id: int, step: Step) -> Job | None:
        job = self.jobs.get(job_id)
        if job is not None:
            job.last = step
        return job

    def finished(self, job_id: int) -> Job | None:
        return self.jobs.pop(job_id, None)

    def _run(self, job: Job, operation: Operation) -> None:
        """The worker thread: run, and always report the end (the domain's pending state hangs on it)."""

        def progress(step: Step) -> None:
            self._app.post_message(JobProgressed(job.job_id, step))

        try:
            result = operation(progress, job.cancel)
        except VmtuiError as exc:
            # A migration's error carries its result (where the guest is, an unknown end): the face shows it.
            failed = getattr(exc, "result", None)
            self._app.post_message(JobFinished(job.job_id, job.host, job.uuid, job.label, False, exc.message, failed))
        except Exception as exc:
            log.exception("%s failed", job.label)
            message = f"internal error: {exc}"
            self._app.post_message(JobFinished(job.job_id, job.host, job.uuid, job.label, False, message))
        else:
            self._app.post_message(JobFinished(job.job_id, job.host, job.uuid, job.label, True, "done", result))

    def post(self, message: Message) -> None:
        """Hand `message` to the app's loop (thread-safe): what a background body reports with."""
        self._app.post_message(message)

    def background(self, name: str, body: Callable[[], object], failed: Callable[[str], Message]) -> None:
        """Long-lived read-only work (KSM readings) on a daemon thread, not a job: nothing is pending.

        `body` reports what it reads through `post` and ends when its owner's cancel Event is set;
        every failure comes back as `failed(one line)`: a VmtuiError its message, anything else
        "internal error ..." with the traceback in the log file (a reader never ends silently).
        """

        def run() -> None:
            try:
                body()
            except VmtuiError as exc:
                self._app.post_message(failed(str(exc)))
            except Exception as exc:
                log.exception("%s failed", name)
                self._app.post_message(failed(f"internal error: {exc!r} (traceback in the log file)"))

        threading.Thread(target=run, name=name, daemon=True).start()

    def fetch(self, key: str, host: str, read: Callable[[], Any]) -> None:
        """Read-only work (node devices, a domain's definitions) on a daemon thread; `DataFetched` comes back.

        Not a job: nothing is pending on a domain, and no notification says "done".
        """

        def run() -> None:
            try:
                self._app.post_message(DataFetched(key, host, read()))
            except VmtuiError as exc:
                self._app.post_message(DataFetched(key, host, error=str(exc)))
            except Exception as exc:
                log.exception("fetching %s failed", key)
                self._app.post_message(DataFetched(key, host, error=f"internal error: {exc}"))

        threading.Thread(target=run, name=f"fetch {key}", daemon=True).start()
