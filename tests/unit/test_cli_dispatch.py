"""`vmtui` builds only the group of the command it runs; what the user sees must not depend on it."""

from __future__ import annotations

import pytest
import typer.main

from vmtui import cli


def test_the_table_names_every_command_of_the_full_app_in_help_order() -> None:
    group = typer.main.get_group(cli.build_app())
    listed = list(group.list_commands(typer.Context(group)))
    tabled = [name for _where, names in cli.REGISTRARS for name in names]
    assert sorted(listed) == sorted(tabled)


@pytest.mark.parametrize("name", [name for _where, names in cli.REGISTRARS for name in names])
def test_a_partial_app_has_the_command_and_only_its_group(name: str) -> None:
    group = typer.main.get_group(cli.build_app(name))
    listed = list(group.list_commands(typer.Context(group)))
    assert name in listed
    assert len(listed) < 10


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["list", "--json"], "list"),
        (["-c", "test:///default", "list"], "list"),
        (["--connect", "list", "stats", "x"], "stats"),  # a URI may be any word, even a command's name
        (["--connect=test:///default", "-r", "--json", "suspend", "vm"], "suspend"),
        (["-rc", "test:///default", "xml", "vm"], "xml"),
        (["-ctest:///default", "-H", "h1", "--replay", "f.json", "top"], "top"),
        (["--host", "h", "hosts", "add", "x", "y"], "hosts"),
        (["--help"], None),
        (["-c", "u", "--help", "list"], None),
        ([], None),
        (["-r"], None),
        (["--show-completion"], None),
    ],
)
def test_command_in_skips_global_options_and_their_values(argv: list[str], command: str | None) -> None:
    assert cli.command_in(argv) == command


def test_completion_always_builds_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_VMTUI_COMPLETE", "complete_bash")
    assert cli.command_in(["list"]) is None
