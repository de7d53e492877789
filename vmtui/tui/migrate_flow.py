"""The migration flow of the TUI: the target picker fed by pre-checks, the progress view, aborts, and
the ends of migration jobs (also of those found in flight).

A controller composed into `VmtuiApp`; the jobs themselves are `vmtui.tui.migrations`'.
"""

from __future__ import annotations

from vmtui.screens.migrate import MigrateChoice, MigrateModal, MigrationScreen
from vmtui.tui.messages import JobFinished, JobProgressed, MigrateRequested, MigrationAbortRequested
from vmtui.tui.migrations import Migrations
from vmtui.tui.parts import Controller, Parts


class MigrateFlow(Controller):
    """From `m` to the migration's end: the picker, the progress screen, the outcome said."""

    def __init__(self, parts: Parts, migrations: Migrations) -> None:
        super().__init__(parts)
        self.migrations = migrations
        self._picker: tuple[int, MigrateModal] | None = None
        """The precheck job feeding the open target picker."""

    def requested(self, message: MigrateRequested) -> None:
        uuid = message.uuid
        running = self.migrations.job_for(uuid)
        if running is not None:
            self._show_migration(running.job_id)
            return
        name = self.fleet.name_of(uuid)
        why = self.migrations.refusal(uuid)
        found = self.fleet.find(uuid)
        if why is not None or found is None:
            self.ui.say(f"Migrate {name}: {why}", title="refused", severity="error")
            return
        source = found[0].name

        def recheck(copy_storage: bool) -> None:
            if self._picker is not None:
                self.jobs.cancel(self._picker[0])  # its reports no longer reach the picker
            self._picker = None
            job = self.migrations.start_prechecks(uuid, copy_storage=copy_storage)
            if job is not None:
                self._picker = (job.job_id, modal)

        modal = MigrateModal(name, source, self.migrations.candidates(source), recheck)
        recheck(False)

        def chosen(choice: MigrateChoice | None) -> None:
            self._picker = None
            if choice is not None:
                self._start_migration(uuid, choice)

        self.ui.show(modal, chosen)

    def _start_migration(self, uuid: str, choice: MigrateChoice) -> None:
        why = self.migrations.refusal(uuid)  # the state may have changed while the picker was open
        if why is not None:
            self.ui.say(f"Migrate {self.fleet.name_of(uuid)}: {why}", title="refused", severity="error")
            return
        job = self.migrations.start_migration(uuid, choice.target, choice.options)
        if job is not None:
            self.ui.redraw(job.host)
            self._show_migration(job.job_id)

    def _show_migration(self, job_id: int) -> None:
        job = self.jobs.jobs.get(job_id)
        if job is not None and not isinstance(self.ui.top, MigrationScreen):
            self.ui.show(MigrationScreen(job_id, job.label, job.last))

    def abort(self, message: MigrationAbortRequested) -> None:
        self.jobs.cancel(message.job_id)

    def progressed(self, message: JobProgressed) -> None:
        """A step of a job: a pre-check's report for the picker, or a migration's for its progress view."""
        if self._picker is not None and self._picker[0] == message.job_id:
            data = message.step.data
            report = data.get("report")
            if data.get("type") == "host-report" and report is not None:
                self._picker[1].show_report(str(data["host"]), report)
            return
        screen = self.ui.top
        if isinstance(screen, MigrationScreen) and screen.job_id == message.job_id:
            screen.show_step(message.step)

    def finished(self, message: JobFinished) -> bool:
        """A job of `self.migrations` ended; True when it was one (then nothing else is said about it)."""
        mig = self.migrations.finished(message.job_id)
        if mig is None:
            return False
        if mig.kind == "scan":
            for job in self.migrations.inflight(message.result):
                if job.stats.operation == "migration-out" and self.migrations.start_watch(
                    mig.host, job.uuid, job.target
                ):
                    by = "a vmtui that exited" if job.orphaned else "another tool"
                    self.ui.say(f"{job.domain}: a migration started by {by} is running; watching it "
                                "(m shows it, x there aborts it)", title=mig.host)  # fmt: skip
            return True
        if mig.kind == "precheck":
            if not message.ok:
                self.ui.say(f"{message.label}: {message.message}", title=mig.host, severity="error")
            return True
        self.migrations.ended(mig)
        screen = self.ui.top
        if isinstance(screen, MigrationScreen) and screen.job_id == message.job_id:
            screen.show_end(message.ok, message.message, message.result)
        if self.ui.running:
            outcome = getattr(message.result, "message", None) or message.message
            unknown = getattr(message.result, "outcome", None) == "unknown"
            self.ui.say(outcome, title=message.label,
                        severity="information" if message.ok else "warning" if unknown else "error")  # fmt: skip
            for host in (mig.host, mig.target):
                poller = self.pollers.get(host) if host is not None else None
                if poller is not None:
                    poller.request_refresh(None)
                if host in self.fleet.hosts:
                    self.ui.host_screen.update_rows(host)
            self.ui.refresh_keys()
        return True
