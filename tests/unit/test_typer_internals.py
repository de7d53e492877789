"""The parts of typer's private vendored click vmtui names (vmtui/cli/typer_internals.py) are still the
ones typer builds and raises: a typer release that moves or renames one fails here, by name, instead of
turning vmtui's usage errors into tracebacks."""

from __future__ import annotations

import pytest
import typer
import typer.core
from typer.main import get_command

from vmtui.cli import typer_internals


def _app(seen: list[object]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def one(count: int = 1) -> None:
        seen.append(typer_internals.get_current_context(silent=True))

    @app.command()
    def two() -> None:
        pass

    return app


def test_typer_builds_its_commands_from_the_named_command_class() -> None:
    command = get_command(_app([]))
    assert isinstance(command, typer_internals.Command)
    assert issubclass(typer.core.TyperGroup, typer_internals.Command)
    assert issubclass(typer.core.TyperCommand, typer_internals.Command)


def test_the_current_context_is_the_named_context_and_names_the_command() -> None:
    seen: list[object] = []
    get_command(_app(seen)).main(args=["one"], prog_name="prog", standalone_mode=False)
    (ctx,) = seen
    assert isinstance(ctx, typer_internals.Context)
    assert ctx.command_path == "prog one"
    assert typer_internals.get_current_context(silent=True) is None  # outside a command


def test_a_bad_option_raises_the_named_usage_error() -> None:
    command = get_command(_app([]))
    with pytest.raises(typer_internals.ClickUsageError) as raised:
        command.main(args=["one", "--count", "many"], prog_name="prog", standalone_mode=False)
    assert "many" in raised.value.format_message()
    assert isinstance(raised.value, typer_internals.ClickException)
    assert raised.value.ctx is not None
    assert raised.value.ctx.command_path == "prog one"
