"""The CLI's surface as a script sees it: every command, however deep, takes --json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from vmtui.cli import app


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command with its path (typer vendors click: a group is what has sub-commands)."""
    subs = getattr(cmd, "commands", None)
    if path and (not subs or any(p.name != "help" for p in cmd.params)):
        yield " ".join(path), cmd  # a group that runs on its own (`migrate DOMAIN HOST`, `ksm`) counts too
    for name, sub in (subs or {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_takes_json() -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    # The ones a user reaches first, so that an empty walk cannot pass.
    assert {
        "list",
        "stats",
        "migrate start",
        "balloon set",
        "ksm tune",
        "devices virtio",
        "sriov vfs",
        "lab tour",
    } <= set(commands)
    missing = [name for name, cmd in commands.items() if "--json" not in {o for p in cmd.params for o in p.opts}]
    assert missing == []
