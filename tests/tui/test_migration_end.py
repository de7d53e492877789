"""How the TUI shows the end of a migration job: an unknown end (RELIABILITY #30) is neither done nor
failed, and the figures read in the right number ("1 pass")."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Static

from tests.tui.conftest import Recorder, wait_for
from tests.tui.test_snapshots import SIZE, finished, replay_app
from vmtui.ops.base import Step
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


def _progress(**figures: object) -> Step:
    """A progress step with the keys `ops.migrate.job.progress_step` sends, these figures filled in."""
    data: dict[str, object] = {"type": "progress", "fraction": 0.4, "elapsed_s": 12.0, "iteration": 1}
    data.update(figures)
    return Step("pass 1", 0.4, data)


async def test_the_progress_screen_says_the_setup_a_far_switch_over_and_close_after_the_end() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        app.migrations.by_job[JOB] = MigrationJob("migrate", "lab2", UUID, "g1", "lab1")
        view = MigrationScreen(JOB, "Migrate g1 to lab1")
        await app.push_screen(view)
        shown = view.query_one("#migration-figures", Static)

        # Setup: the steps already sent say what happens (no bare 0 %).
        view.show_step(Step("migrating g1 to lab1", 0.0, {"type": "phase", "phase": "started"}))
        await pilot.pause()
        assert str(shown.render()) == "setting up the target (its QEMU starts, the connections open)…"
        view.show_step(Step("setting up", 0.0, {"type": "progress", "phase": "setup", "elapsed_s": 4.0}))
        await pilot.pause()
        assert str(shown.render()) == "setting up the target (its QEMU starts, the connections open)… 4.0 s"

        # Mid-pass: 105 MiB left at 1 MiB/s is a 105 s pause now, not a downtime forecast beside max 100 ms.
        far = {"expected_downtime_ms": 105000, "max_downtime_ms": 100}
        view.show_step(_progress(data_remaining=105 * 1048576, data_total=256 * 1048576, throughput_bps=1048576,
                                 dirty_bps=0, eta_s=105.0, **far))  # fmt: skip
        await pilot.pause()
        text = str(shown.render())
        assert "expected downtime" not in text
        assert "switch-over once the rest fits 100 ms (it would take 1 min 45 s now)" in text
        # Close to the switch-over the figure means what it says.
        view.show_step(_progress(data_remaining=1048576, data_total=256 * 1048576, throughput_bps=10485760,
                                 dirty_bps=0, eta_s=0.1, expected_downtime_ms=300, max_downtime_ms=100))  # fmt: skip
        await pilot.pause()
        assert "expected downtime 300 ms (max 100 ms)" in str(shown.render())

        # While it runs, esc hides; once it ended, esc closes.
        assert footer_words(view) >= {"Hide (it goes on)"}
        assert "Close" not in footer_words(view)
        result = MigrationResult("g1", UUID, "lab2", "lab1", "done", "g1 runs on lab1", MigrationOptions(), seconds=9.0)
        app.post_message(JobFinished(JOB, "lab2", UUID, "Migrate g1 to lab1", True, "done", result))
        await wait_for(pilot, lambda: view.ended is not None)
        await pilot.pause()
        assert "Close" in footer_words(view)
        assert "Hide (it goes on)" not in footer_words(view)
        await pilot.press("escape")
        assert app.screen is not view


def footer_words(screen: Screen[Any]) -> set[str]:
    return {b.binding.description for b in screen.active_bindings.values() if b.binding.show and b.enabled}


async def test_a_moved_key_says_where_its_action_went_and_does_nothing() -> None:
    """`a` aborted a migration before `x` did: pressed now, it says so and aborts nothing (item 6, a key
    that does not apply says why)."""
    recorder = Recorder()
    app = replay_app()
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await finished(pilot)
        app.migrations.by_job[JOB] = MigrationJob("migrate", "lab2", UUID, "g1", "lab1")
        await app.push_screen(MigrationScreen(JOB, "Migrate g1 to lab1"))
        await pilot.press("a")
        await wait_for(pilot, lambda: recorder.said("x aborts the migration"))
        (note,) = [n for n in recorder.notes() if "x aborts" in n.message]
        assert note.message == "a does nothing here: x aborts the migration"
        assert not [m for m in recorder.messages if type(m).__name__ == "MigrationAbortRequested"]
