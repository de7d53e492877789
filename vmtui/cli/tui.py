"""Starting the TUI from the CLI: the only CLI module that (lazily) imports Textual."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from vmtui.cli.common import fail
from vmtui.config import resolve_targets
from vmtui.errors import UsageError, VmtuiError
from vmtui.logsetup import setup_logging
from vmtui.richtext import check_saved_host_colours
from vmtui.settings.load import load_settings


def run_tui(
    *, connect: Sequence[str] | None, host: Sequence[str] | None, read_only: bool, replay: Path | None, as_json: bool
) -> None:
    try:
        setup_logging()
        if as_json:
            raise UsageError(
                "the full-screen TUI has no JSON output", hint="use `vmtui top --json` or `vmtui list --json`"
            )
        if not (sys.stdout.isatty() and sys.stdin.isatty()):
            # Escape codes written into a pipe or a file help nobody.
            raise UsageError("the full-screen TUI needs a terminal", hint="for a stream use `vmtui top` (or --json)")
        entries = resolve_targets(connect, host, read_only=read_only, replay=replay)
        # Both files read even with -c or --replay: a bad threshold or colour refuses to start, never
        # half-configured.
        settings = load_settings()
        check_saved_host_colours()
        from vmtui.app import VmtuiApp, launch
        from vmtui.tui.usersettings import check_settings

        check_settings(settings, VmtuiApp)  # before the terminal is taken: the error is one line in the shell
    except VmtuiError as exc:
        raise fail(exc, as_json=as_json) from None
    except ImportError as exc:
        raise fail(VmtuiError(f"the TUI is not available: {exc}"), as_json=False) from None
    try:
        launch(entries, settings)
    except VmtuiError as exc:
        raise fail(exc, as_json=False) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
