"""The one rule for a command group with a default subcommand: `vmtui devices web1` is `vmtui devices show web1`.

The rule: the group's default subcommand is meant unless the first word after the group that is not
an option names one of its subcommands, or the line starts by asking the group for its help. With nothing after the
group, a group that shows its help then (`no_args_is_help`: `migrate`, `balloon`) shows it; the others
run their default (`vmtui sriov` lists). Shell completion parses resiliently and is left alone, so
that a subcommand being typed completes as one. `vmtui.cli.hoist` reads `default_command` to walk
argv the way the group will.
"""

from __future__ import annotations

from typer.core import TyperGroup

from vmtui.cli.typer_internals import Context

HELP_WORDS = ("--help", "-h")


class DefaultGroup(TyperGroup):
    default_command = ""
    """Set by `defaulting_to`: the subcommand a line without one means."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing and self.means_default(ctx, args):
            args = [self.default_command, *args]
        parsed: list[str] = super().parse_args(ctx, args)
        return parsed

    def means_default(self, ctx: Context, args: list[str]) -> bool:
        """Whether `args` (what follows the group's name) are the default subcommand's."""
        if not args:
            return not self.no_args_is_help
        if args[0] in HELP_WORDS or args[0] in ctx.help_option_names:
            return False
        first_word = next((word for word in args if not word.startswith("-")), None)
        return first_word not in self.commands


def defaulting_to(command: str) -> type[DefaultGroup]:
    """A DefaultGroup class whose default subcommand is `command` (typer builds the group from a class)."""
    return type(f"DefaultTo{command.title()}", (DefaultGroup,), {"default_command": command})
