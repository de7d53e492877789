"""The TUI's `vmtui create`: from the dashboard's key to the form, the plan (checked off the loop and
confirmed), and the creation's progress.

Both jobs are `vmtui.ops.create` functions started by the job starter with a connection of their own:
`plan_create` (it reads the local files and asks the host: never on Textual's loop) answers the form,
`create` makes the plan with a progress callback and a cancel Event, and removes what it made when
it fails or is cancelled. A controller composed into `VmtuiApp`; it lives on Textual's loop.
"""

from __future__ import annotations

import threading

from vmtui.drivers.base import Hypervisor
from vmtui.ops import create as ops
from vmtui.ops.base import Progress
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.create import CreateForm, CreateScreen, confirm_lines
from vmtui.tui.actions import After
from vmtui.tui.messages import CreateAbortRequested, CreateRequested, JobProgressed
from vmtui.tui.parts import Controller, Parts


class Creations(Controller):
    """Opens the create form on a host, plans and confirms, then runs the creation with its progress."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        self.running: set[int] = set()
        """The IDs of the create jobs under way."""

    def requested(self, message: CreateRequested) -> None:
        host = message.host
        why = self._refusal(host)
        if why is not None:
            self.ui.say(f"Create a VM on {host}: {why}", title="refused", severity="error")
            return
        form = CreateForm(host, lambda f, request: self._plan(host, f, request))
        self.ui.show(form, lambda plan: self._confirm(host, plan) if plan is not None else None)

    def _refusal(self, host: str) -> str | None:
        view = self.fleet.hosts.get(host)
        if view is None or host not in self.entries:
            return "not a watched host"
        return self.fleet.write_refusal(view)

    def _plan(self, host: str, form: CreateForm, request: ops.CreateRequest) -> None:
        why = self._refusal(host)
        if why is not None:
            form.refused(why)
            return

        def work(conn: Hypervisor, _p: Progress, _c: threading.Event) -> ops.CreatePlan:
            return ops.plan_create(conn, request)

        def planned(plan: object) -> None:
            assert isinstance(plan, ops.CreatePlan)
            if form.is_attached:  # closed while it was checked: nothing asked any more
                form.planned(plan)

        def refused(why: str) -> None:
            if form.is_attached:
                form.refused(why)

        after = After(ok=planned, failed=refused, quiet=True, changes=False)
        if self.starter.run(self.entries[host], None, f"Plan of {request.name}", work, after=after) is None:
            form.refused("another job of this host is starting; try again")

    def _confirm(self, host: str, plan: ops.CreatePlan) -> None:
        question = f"Create {plan.name} on {host}?"
        detail = "The plan (what `vmtui create --dry-run` prints):"
        self.ui.show(
            ConfirmModal(question, detail=detail, listed=confirm_lines(plan)),
            lambda ok: self._start(host, plan) if ok else None,
        )

    def _start(self, host: str, plan: ops.CreatePlan) -> None:
        why = self._refusal(host)  # the host may have gone read-only or away while the plan was read
        if why is not None:
            self.ui.say(f"Create {plan.name} on {host}: {why}", title="refused", severity="error")
            return

        def work(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> ops.CreateResult:
            return ops.create(conn, plan, progress=progress, cancel=cancel)

        started: list[int] = []  # the job's ID, known once it runs; its end needs it

        after = After(
            ok=lambda done: self._ended(started, host, plan, done, ""),
            failed=lambda why: self._ended(started, host, plan, None, why),
            quiet=True,
            changes=False,
        )
        job = self.starter.run(self.entries[host], None, f"Create {plan.name}", work, after=after)
        if job is not None:
            started.append(job.job_id)
            self.running.add(job.job_id)
            self.ui.show(CreateScreen(job.job_id, plan, host))

    def progressed(self, message: JobProgressed) -> None:
        if message.job_id not in self.running:
            return
        screen = self.ui.top
        if isinstance(screen, CreateScreen) and screen.job_id == message.job_id:
            screen.show_step(message.step)

    def abort(self, message: CreateAbortRequested) -> None:
        self.jobs.cancel(message.job_id)

    def _ended(self, started: list[int], host: str, plan: ops.CreatePlan, done: object, why: str) -> None:
        job_id = started[0] if started else None
        self.running.discard(job_id or -1)
        ok = isinstance(done, ops.CreateResult)
        text = f"created {plan.name}: {done.state}" if isinstance(done, ops.CreateResult) else f"{plan.name}: {why}"
        screen = self.ui.top
        if isinstance(screen, CreateScreen) and screen.job_id == job_id:
            screen.show_end(ok, text)
        self.ui.say(text if ok else f"Create {text}", title=host, severity="information" if ok else "error")
        poller = self.pollers.get(host)
        if poller is not None:
            poller.request_refresh(None)
