"""The lifecycle actions as commands: `vmtui start`, `shutdown`, `reboot`, `destroy`, `suspend`, `resume`, `save`.

The table of actions (which state allows which, which ones ask first) is `vmtui.ops.lifecycle`, shared
with the TUI. A module of its own so that `vmtui list` does not load the lifecycle rules.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from vmtui.cli.bulk import ParallelOpt, one_or_filter, run_filtered
from vmtui.cli.common import (
    ConnectOpt,
    FilterOpt,
    HostOpt,
    JsonOpt,
    OptionalDomainArg,
    ReadOnlyOpt,
    YesOpt,
    confirm,
    domain_json,
    emit_json,
    guarded,
)
from vmtui.cli.runner import run_op
from vmtui.cli.targets import domain_host, label, open_entry, resolve_targets
from vmtui.ops import bulk, lifecycle
from vmtui.ops.base import Step
from vmtui.present import printable


def register(app: typer.Typer) -> None:
    for action in lifecycle.ACTIONS:
        app.command(action.key, help=action.help)(_action_command(action))


def _action_command(action: lifecycle.LifecycleAction) -> Callable[..., None]:
    @guarded()
    def command(
        domain: OptionalDomainArg = None,
        *,
        filter_expr: FilterOpt = None,
        parallel: ParallelOpt = None,
        yes: YesOpt = False,
        connect: ConnectOpt = None,
        host: HostOpt = None,
        read_only: ReadOnlyOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        at_once = one_or_filter(domain, filter_expr, parallel)
        if domain is None:
            watched = resolve_targets(connect, host, read_only=True)
            run_filtered(
                bulk.lifecycle_action(action.key, lambda e: lifecycle.peer_hosts(e, watched), open_entry),
                action.label,
                filter_expr or "",
                connect=connect,
                host=host,
                read_only=read_only,
                yes=yes,
                destructive=action.destructive,
                parallel=at_once,
                as_json=as_json,
            )
            return
        with domain_host(domain, connect, host, read_only=read_only) as (entry, conn):
            # Refused here, before the question and before any change: read-only, a migration in flight,
            # or a state that forbids it.
            conn.require_writable(action.key)
            info = conn.domain(domain)
            lifecycle.refuse(conn, action, info)
            if action.destructive:
                confirm(lifecycle.question(action, info.name, label(entry)), yes=yes, as_json=as_json)
            restored = action.key == "start" and lifecycle.has_saved_state(conn, info.uuid)
            # Every saved host and every host named on the command line is asked first whether this UUID
            # already runs there (a start after `migrate --temporary` would run it twice).
            peers = lifecycle.peer_hosts(entry, resolve_targets(connect, host, read_only=True))
            warnings = _Warnings(as_json=as_json)
            uuid = info.uuid
            info = run_op(
                lambda progress, cancel: lifecycle.run(
                    conn, uuid, action.key, peers=peers, connector=open_entry, progress=progress, cancel=cancel
                ),
                warnings,
            )
        if as_json:
            body: dict[str, object] = {
                "action": action.key,
                "host": label(entry),
                "domain": domain_json(label(entry), info),
            }
            if action.key in lifecycle.MAKES_IT_RUN:
                body["unchecked"] = warnings.unchecked
            emit_json({**body, "restored": restored} if action.key == "start" else body)
        else:
            how = " (restored from its saved state)" if restored else ""
            if action.asks_the_guest:
                # The call returns once the guest was asked, whatever it then does.
                typer.echo(
                    f"{action.key}: {printable(info.name)} on {label(entry)}: requested; the guest decides"
                    f" (it is {info.state} now)"
                )
            else:
                typer.echo(f"{action.key}: {printable(info.name)} on {label(entry)} is now {info.state}{how}")

    command.__name__ = f"{action.key}_cmd"
    command.__doc__ = action.help
    return command


class _Warnings:
    """The operation's warnings (hosts that could not be asked) on stderr, and kept for `--json`."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.unchecked: list[dict[str, object]] = []

    def __call__(self, step: Step) -> None:
        if step.data.get("type") != "warning":
            return
        self.unchecked.append({"host": step.data.get("host"), "reason": step.data.get("reason")})
        if not self.as_json:
            sys.stderr.write(f"vmtui: warning: {printable(step.text)}\n")
