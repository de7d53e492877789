"""How the TUI shows the end of a migration job: an unknown end (RELIABILITY #30) is neither done nor
failed, and the figures read in the right number ("1 pass")."""

from __future__ import annotations

from tests.tui.conftest import Recorder, wait_for
from tests.tui.test_snapshots import SIZE, finished, replay_app
from vmtui.ops.migrate import MigrationOptions, MigrationResult
from vmtui.screens.migrate import MigrationScreen
from vmtui.tui.messages import JobFinished
from vmtui.tui.migrations import MigrationJob

UUID = "6f1e0c7a-0000-4000-8000-0000000000aa"
JOB = 9001


async def test_an_unknown_end_is_shown_as_unknown_with_one_pass() -> None:
    recorder = Recorder()
    app = replay_app()
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await finished(pilot)
        # The job as the app's migrations know it, and its progress view open (as `m` leaves them).
        app.migrations.by_job[JOB] = MigrationJob("migrate", "lab2", UUID, "g1", "lab1")
        view = MigrationScreen(JOB, "Migrate g1 to lab1")
        await app.push_screen(view)
        message = "g1: the end is unknown: lab2 could not be asked (end of file); lab1 holds only the incoming half"
        result = MigrationResult(
            "g1", UUID, "lab2", "lab1", "unknown", message, MigrationOptions(), seconds=8.0,
            bytes_sent=5 * 1048576, memory_bytes=257 * 1048576, iterations=1,
        )  # fmt: skip
        # What the job runner posts when `migrate` raises its MigrationUnknownError (the result rides along).
        app.post_message(JobFinished(JOB, "lab2", UUID, "Migrate g1 to lab1", False, message, result))
        await wait_for(pilot, lambda: view.ended is not None)
        assert view.ended == "unknown"
        line = view.log_lines[-1]
        assert line.plain == f"{message}\ntotal 8.0 s · downtime - · 5.0 MiB sent · 1 pass"
        assert str(line.style) == "bold yellow"  # not the red of a failure, not the green of success
        await wait_for(pilot, lambda: recorder.said("the end is unknown"))
        (note,) = [n for n in recorder.notes() if "the end is unknown" in n.message]
        assert note.severity == "warning"
