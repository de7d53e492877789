"""The TUI's host drain: from the hosts pane's key to the plan, its confirmation, every guest's progress,
and the summary; and the undrain of a host in maintenance.

Both jobs are `vmtui.ops.drain` functions started by the job starter (a daemon thread, a progress
callback, a cancel Event): the plan job, then the drain job, which holds the host's drain lock (as the
CLI's drain does, so a CLI and a TUI never drain one host at once) and saves the maintenance flag.
A controller composed into `VmtuiApp`; it lives on Textual's loop, like `Fleet`.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import replace

from vmtui import config
from vmtui.drivers.base import Hypervisor, Migrator
from vmtui.errors import UsageError, VmtuiError
from vmtui.models import HostEntry
from vmtui.ops.base import Progress, Step
from vmtui.ops.drain import DrainPlan, DrainSummary, plan_drain, run_drain
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.drain import DrainChoice, DrainForm, DrainScreen, plan_lines
from vmtui.tui.actions import After
from vmtui.tui.messages import DrainAbortRequested, HostDrainRequested, JobProgressed
from vmtui.tui.migrations import Migrations
from vmtui.tui.parts import Controller, Parts


def _live(conn: Hypervisor) -> Migrator:
    if not isinstance(conn, Migrator):
        raise UsageError(f"{conn.uri}: a recording cannot take part in a migration")
    return conn


class Drains(Controller):
    """Starts the plan and drain jobs of the hosts pane's drain key and shows their steps."""

    def __init__(self, parts: Parts, migrations: Migrations) -> None:
        super().__init__(parts)
        self.migrations = migrations
        self.running: dict[int, str] = {}
        """Drain job ID -> the drained host."""

    def requested(self, message: HostDrainRequested) -> None:
        name = message.name
        why = self._refusal(name)
        if why is not None:
            self.ui.say(f"Drain {name}: {why}", title="refused", severity="error")
            return
        if self.entries[name].maintenance:
            question = f"Take {name} out of maintenance?"
            detail = "Placement, migrate targets and drains may choose it again."
            self.ui.show(ConfirmModal(question, detail=detail), lambda ok: self._undrain(name) if ok else None)
            return
        form = DrainForm(name, self.migrations.candidates(name))
        self.ui.show(form, lambda choice: self._start_plan(name, choice) if choice is not None else None)

    def _refusal(self, name: str) -> str | None:
        entry, view = self.entries.get(name), self.fleet.hosts.get(name)
        if entry is None or view is None:
            return "not a watched host"
        try:
            saved = {e.name for e in config.HostStore().load()}
        except VmtuiError as exc:
            return exc.message
        if name not in saved:
            return "only a saved host can be drained (its maintenance is saved with it): `vmtui hosts add` it"
        if name in self.running.values():
            return "a drain of it is running (its screen: D again)"
        write = self.fleet.write_refusal(view)
        if write is not None:
            return write
        if not entry.maintenance and not self.migrations.candidates(name):
            return "no host to move its guests to (every other host is read-only, down or in maintenance)"
        return None

    def _start_plan(self, name: str, choice: DrainChoice) -> None:
        why = self._refusal(name)  # the hosts may have changed while the form was open
        if why is not None:
            self.ui.say(f"Drain {name}: {why}", title="refused", severity="error")
            return
        candidates = self.migrations.candidates(name)
        gone = [t for t in choice.targets if t not in candidates]
        if gone:
            self.ui.say(f"Drain {name}: {', '.join(gone)} can no longer take guests", title="refused", severity="error")
            return
        targets = {t: self.entries[t] for t in choice.targets}
        src_entry = self.entries[name]
        connector = self.connector

        def operation(progress: Progress, cancel: threading.Event) -> DrainPlan:
            with ExitStack() as stack:
                src = _live(stack.enter_context(connector(src_entry)))
                conns: dict[str, Migrator | VmtuiError] = {}
                for target, entry in targets.items():
                    try:
                        conns[target] = _live(stack.enter_context(connector(entry)))
                    except VmtuiError as exc:
                        conns[target] = exc
                return plan_drain(src, conns, choice.options, source=name, parallel=choice.parallel,
                                  progress=progress, cancel=cancel)  # fmt: skip

        self.ui.say(f"planning the drain of {name}…", title=name)
        confirm = After(ok=lambda plan: self._confirm(name, plan), changes=False, quiet=True)
        self.starter.start(name, None, f"Drain plan of {name}", operation, after=confirm)

    def _confirm(self, name: str, plan: DrainPlan) -> None:
        if not plan.moving:
            self.ui.say(f"Drain {name}: nothing can move; " + "; ".join(plan_lines(plan))[:400],
                        title="nothing to drain", severity="warning")  # fmt: skip
            return
        question = f"Drain {name}: migrate {len(plan.moving)} guests, then keep {name} in maintenance?"
        self.ui.show(
            ConfirmModal(question, listed=plan_lines(plan)), lambda ok: self._start_drain(name, plan) if ok else None
        )

    def _start_drain(self, name: str, plan: DrainPlan) -> None:
        why = self._refusal(name)
        if why is not None:
            self.ui.say(f"Drain {name}: {why}", title="refused", severity="error")
            return
        src_entry = self.entries[name]
        targets = {g.target: self.entries[g.target] for g in plan.moving if g.target in self.entries}
        connector = self.connector

        def operation(progress: Progress, cancel: threading.Event) -> DrainSummary:
            with config.drain_lock(name), ExitStack() as stack:
                config.HostStore().set_maintenance(name, True)
                progress(Step(f"{name} is in maintenance", 0.0, {"type": "maintenance", "host": name, "on": True}))
                conns = {t: _live(stack.enter_context(connector(e))) for t, e in targets.items()}
                uris = {t: e.uri for t, e in targets.items()}
                return run_drain(conns, plan, connect_source=lambda: _live(connector(src_entry)), target_uris=uris,
                                 progress=progress, cancel=cancel)  # fmt: skip

        ended = After(ok=lambda summary: self._ended(name, summary, ""),
                      failed=lambda why: self._ended(name, None, why), changes=False, quiet=True)  # fmt: skip
        job = self.starter.start(name, None, f"Drain {name}", operation, after=ended)
        if job is not None:
            self.running[job.job_id] = name
            self.ui.show(DrainScreen(job.job_id, plan))

    def progressed(self, message: JobProgressed) -> None:
        """A step of a drain job: the maintenance flag for the pane, the rest for the drain's screen."""
        if message.job_id not in self.running:
            return
        data = message.step.data
        if data.get("type") == "maintenance":
            self._maintenance(str(data["host"]), bool(data["on"]))
        screen = self.ui.top
        if isinstance(screen, DrainScreen) and screen.job_id == message.job_id:
            screen.show_step(message.step)

    def abort(self, message: DrainAbortRequested) -> None:
        self.jobs.cancel(message.job_id)

    def _ended(self, name: str, summary: DrainSummary | None, why: str) -> None:
        job_id = next((j for j, host in self.running.items() if host == name), None)
        if job_id is not None:
            self.running.pop(job_id)
        screen = self.ui.top
        if isinstance(screen, DrainScreen) and screen.job_id == job_id:
            screen.show_end(summary, why)
        if summary is None:
            self.ui.say(f"Drain {name}: {why}", title=name, severity="error")
            return
        moved, total = summary.count("moved"), len(summary.plan.moving)
        words = f"Drain {name}: {moved} of {total} moved in {summary.seconds:.0f} s; {name} is in maintenance"
        self.ui.say(words, title=name, severity="information" if moved == total and not summary.plan.refused
                    else "warning")  # fmt: skip
        for host in {name, *(g.target for g in summary.plan.moving if g.target)}:
            poller = self.pollers.get(host)
            if poller is not None:
                poller.request_refresh(None)

    def _undrain(self, name: str) -> None:
        try:
            with config.drain_lock(name):
                config.HostStore().set_maintenance(name, False)
        except VmtuiError as exc:
            self.ui.say(f"Undrain {name}: {exc.message}", title="refused", severity="error")
            return
        self._maintenance(name, False)
        self.ui.say(f"{name} is out of maintenance", title=name)

    def _maintenance(self, name: str, on: bool) -> None:
        entry: HostEntry | None = self.entries.get(name)
        if entry is not None:
            self.entries[name] = replace(entry, maintenance=on)
        view = self.fleet.hosts.get(name)
        if view is not None:
            view.maintenance = on
        self.ui.host_screen.show_hosts()
        self.ui.refresh_keys()
