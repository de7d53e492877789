"""Starting the TUI from the CLI: the only CLI module that (lazily) imports Textual."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from vmtui.cli.common import fail
from vmtui.errors import VmtuiError
from vmtui.logsetup import setup_logging


def run_tui(*, connect: Sequence[str] | None, host: Sequence[str] | None, read_only: bool, replay: Path | None) -> None:
    setup_logging()
    try:
        from vmtui.app import launch
    except ImportError as exc:
        raise fail(VmtuiError(f"the TUI is not available: {exc}"), as_json=False) from None
    try:
        launch(connect=connect, host=host, read_only=read_only, replay=replay)
    except VmtuiError as exc:
        raise fail(exc, as_json=False) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
