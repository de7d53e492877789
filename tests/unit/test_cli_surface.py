"""The CLI's surface as a script sees it: every command, however deep, takes --json, and every command
that changes something is refused by --read-only given before it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from conftest import run_vmtui

from vmtui.cli import app


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command with its path (typer vendors click: a group is what has sub-commands)."""
    subs = getattr(cmd, "commands", None)
    if path and (not subs or any(p.name != "help" for p in cmd.params)):
        yield " ".join(path), cmd  # a group that runs on its own (`migrate DOMAIN HOST`, `ksm`) counts too
    for name, sub in (subs or {}).items():
        yield from _commands(sub, (*path, name))


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VMTUI_HOME", str(home))
    return home


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


# Every command that changes something, as a user would type it, with --read-only given first (the
# position the first hour found ignored). libvirt's test driver stands in for a host.
WRITES: dict[str, list[str]] = {
    "start": ["start", "test"],
    "shutdown": ["shutdown", "test"],
    "reboot": ["reboot", "test"],
    "destroy": ["destroy", "test", "--yes"],
    "suspend": ["suspend", "test"],
    "resume": ["resume", "test"],
    "save": ["save", "test", "--yes"],
    "define": ["define", "DEFINE_FILE"],
    "undefine": ["undefine", "test", "--yes"],
    "vol-create": ["vol-create", "default", "v1", "1MiB"],
    "vol-delete": ["vol-delete", "default", "v1", "--yes"],
    "create": ["create", "t2", "--image", "default/v1"],
    "template": ["template", "test"],
    "clone": ["clone", "test", "t3"],
    "delete": ["delete", "test", "--yes"],
    "disk resize": ["disk", "resize", "test", "hda", "+1G"],
    "autostart": ["autostart", "test", "on"],
    "net-autostart": ["net-autostart", "default", "on"],
    "devices virtio": ["devices", "virtio", "test", "--all"],
    "devices add-disk": ["devices", "add-disk", "test", "1GiB"],
    "devices add-nic": ["devices", "add-nic", "test"],
    "sriov vfs": ["sriov", "vfs", "0000:00:00.0", "1"],
    "sriov pool": ["sriov", "pool", "0000:00:00.0"],
    "sriov attach": ["sriov", "attach", "test"],
    "sriov detach": ["sriov", "detach", "test"],
    "balloon set": ["balloon", "set", "test", "100MiB"],
    "balloon policy": ["balloon", "policy", "--apply", "--count", "1"],
    "ksm tune": ["ksm", "tune", "--pages-to-scan", "100"],
    "ksm on": ["ksm", "on"],
    "ksm off": ["ksm", "off"],
    "ksm opt-out": ["ksm", "opt-out", "test"],
    "ksm opt-in": ["ksm", "opt-in", "test"],
    "ksm policy": ["ksm", "policy", "--apply"],
    "snapshot create": ["snapshot", "create", "test", "s1"],
    "snapshot revert": ["snapshot", "revert", "test", "s1", "--yes"],
    "snapshot delete": ["snapshot", "delete", "test", "s1", "--yes"],
    "backup create": ["backup", "test"],
    "backup restore": ["backup", "restore", "test", "20260101T000000Z-full", "--as", "t2"],
}
# Refused up front (exit 2) rather than by the connection: they change two hosts, or the lab itself.
REFUSED_UP_FRONT = {
    "migrate start": ["migrate", "start", "test", "qemu:///system"],
    "migrate abort": ["migrate", "abort", "test"],
    "lab up": ["lab", "up"],
    "lab down": ["lab", "down"],
    "lab restart": ["lab", "restart", "lab1"],
    "host drain": ["host", "drain", "lab1"],
}
# Only read (or, for `hosts add|rm` and `host undrain`, edit the user's own file), or need a terminal
# (`edit`, `console`: tests/tui/test_edit_tmux.py and the lab's console test cover those).
OTHERS = {
    "list", "stats", "explain", "console", "display", "xml", "edit", "pools", "volumes", "nets", "place",
    "top", "record", "export", "hosts", "hosts add", "hosts rm", "devices show", "sriov list", "ksm",
    "ksm status", "snapshot list", "backup list", "migrate history", "migrate jobs", "migrate attach", "lab tour",
    "lab status", "lab image", "host undrain",
}  # fmt: skip


def test_every_command_is_classed_as_write_or_not() -> None:
    """A new command must be added to WRITES (and so be tested read-only) or named as one that only reads."""
    commands = set(dict(_commands(typer.main.get_command(app))))
    assert commands == set(WRITES) | set(REFUSED_UP_FRONT) | OTHERS


@pytest.mark.parametrize("name", sorted(WRITES))
def test_read_only_given_first_refuses_every_write(name: str, own_home: Path, tmp_path: Path) -> None:
    definition = tmp_path / "test.xml"
    definition.write_text(run_vmtui("-c", "test:///default", "xml", "test", check=True).stdout)
    argv = [str(definition) if a == "DEFINE_FILE" else a for a in WRITES[name]]
    proc = run_vmtui("--read-only", "-c", "test:///default", *argv, "--json")
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["error"]["message"].endswith(": connection test:///default is read-only")


@pytest.mark.parametrize("name", sorted(REFUSED_UP_FRONT))
def test_read_only_refuses_migrations_and_the_lab_before_anything(name: str, own_home: Path) -> None:
    proc = run_vmtui("--read-only", *REFUSED_UP_FRONT[name], "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--read-only" in json.loads(proc.stdout)["error"]["message"]


def _groups(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command that has sub-commands, the root included."""
    subs = getattr(cmd, "commands", None)
    if subs:
        yield " ".join(path) or "vmtui", cmd
        for name, sub in subs.items():
            yield from _groups(sub, (*path, name))


# Words a help text uses for a sub-command without it being one.
COMMAND_SYNONYMS = {"remove", "ls", "del", "new", "show", "list", "delete", "add"}


def test_every_group_help_names_only_its_real_subcommands() -> None:
    """`vmtui hosts --help` offered `remove` (and `list`) where the commands are `rm` (and the bare group)."""
    groups = dict(_groups(typer.main.get_command(app)))
    assert {"vmtui", "hosts", "migrate", "snapshot", "ksm", "lab", "devices"} <= groups.keys()
    command_words = COMMAND_SYNONYMS | {
        name for path, group in groups.items() if path != "vmtui" for name in group.commands
    }
    for path, group in groups.items():
        mentioned = {word for word in re.findall(r"[a-z][a-z-]*[a-z]", group.help or "") if word in command_words}
        assert mentioned <= group.commands.keys(), (
            f"`{path} --help` names no such sub-command: {mentioned - group.commands.keys()}"
        )
