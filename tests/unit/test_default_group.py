"""The one default-subcommand rule (`vmtui.cli.default_group`): which words reach the default subcommand."""

from __future__ import annotations

from typing import Annotated

import pytest
import typer
from typer.main import get_group
from typer.testing import CliRunner

from vmtui.cli.default_group import DefaultGroup, defaulting_to


def _app(*, no_args_is_help: bool) -> typer.Typer:
    app = typer.Typer(cls=defaulting_to("show"), no_args_is_help=no_args_is_help)

    @app.command("show")
    def show(
        name: Annotated[str, typer.Argument()] = "(none)",
        loud: Annotated[bool, typer.Option("--loud")] = False,
    ) -> None:
        typer.echo(f"show {name}{' loud' if loud else ''}")

    @app.command("other")
    def other(name: Annotated[str, typer.Argument()] = "(none)") -> None:
        typer.echo(f"other {name}")

    return app


@pytest.mark.parametrize(
    ("argv", "out"),
    [
        (["web1"], "show web1\n"),  # a word that names no subcommand: the default's argument
        (["--loud", "web1"], "show web1 loud\n"),  # options first: the first word still decides
        (["web1", "--loud"], "show web1 loud\n"),
        (["show", "web1"], "show web1\n"),  # the subcommand named: as typed
        (["other", "web1"], "other web1\n"),
        (["other"], "other (none)\n"),
        (["show"], "show (none)\n"),  # a domain named like a subcommand needs the subcommand: `show show`
        (["show", "other"], "show other\n"),
    ],
)
def test_the_first_word_that_is_not_an_option_decides(argv: list[str], out: str) -> None:
    result = CliRunner().invoke(_app(no_args_is_help=False), argv)
    assert (result.exit_code, result.output) == (0, out)


def test_nothing_after_the_group_runs_the_default() -> None:
    result = CliRunner().invoke(_app(no_args_is_help=False), [])
    assert (result.exit_code, result.output) == (0, "show (none)\n")


def test_nothing_after_a_group_that_shows_its_help_shows_it() -> None:
    result = CliRunner().invoke(_app(no_args_is_help=True), [])
    assert "Commands" in result.output
    assert "show (none)" not in result.output


@pytest.mark.parametrize("word", ["--help", "-h"])
def test_help_first_is_the_groups_help(word: str) -> None:
    result = CliRunner().invoke(_app(no_args_is_help=False), [word])
    assert "show (none)" not in result.output
    if word == "--help":
        assert result.exit_code == 0
        assert "Commands" in result.output
    else:  # -h is no help option of these groups: click's one-line usage error, not the default subcommand
        assert result.exit_code == 2
        assert "No such option: -h" in result.output


def test_an_option_before_a_named_subcommand_is_the_groups() -> None:
    result = CliRunner().invoke(_app(no_args_is_help=False), ["--loud", "other"])
    assert result.exit_code == 2
    assert "No such option: --loud" in result.output


def test_every_group_with_a_default_subcommand_uses_the_one_class() -> None:
    from vmtui.cli.devices import devices_app
    from vmtui.cli.memory import balloon_app
    from vmtui.cli.migrate import migrate_app
    from vmtui.cli.sriov import sriov_app

    defaults = {
        name: group.default_command
        for name, app in (
            ("devices", devices_app),
            ("sriov", sriov_app),
            ("balloon", balloon_app),
            ("migrate", migrate_app),
        )  # fmt: skip
        if isinstance(group := get_group(app), DefaultGroup)
    }
    assert defaults == {"devices": "show", "sriov": "list", "balloon": "set", "migrate": "start"}
