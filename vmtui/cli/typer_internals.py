"""typer's vendored click: the one module of vmtui that reaches into it.

typer ships a cut-down click inside itself, as a private package, and raises its exceptions. The CLI
has to name a few of its parts that public typer does not export: the usage errors (turned into
vmtui's one-line or JSON errors), `Command` and `Context` (the option hoister, the default-subcommand
group) and the current context (the command path in messages). Everything else imports them from
here; tests/unit/test_typer_internals.py fails loudly when a typer release moves or renames one.
"""

from __future__ import annotations

import typer._click as click

Command = click.Command
Context = click.Context
ClickException = click.exceptions.ClickException
ClickUsageError = click.exceptions.UsageError
"""click's usage error (a bad option or argument), not vmtui's `errors.UsageError`."""
get_current_context = click.globals.get_current_context
