"""One check before every write on a domain: a migration in flight holds it.

libvirt's migration job holds the domain's state-change lock for the whole job: a balloon, a resume, a
device change queues behind it for ~30 s and then fails with libvirt's raw "cannot acquire state change
lock (held by ...MigratePerform3Params)". Asked first (`jobStats`, which libvirt answers during the
job), the write is refused at once, saying where the guest is going and what to do instead.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from vmtui.errors import OperationError, VmtuiError

log = logging.getLogger("vmtui.ops")


def refuse_if_migrating(conn: object, ident: str, action: str, *, name: str | None = None) -> None:
    """OperationError "ACTION NAME: migrating to HOST: wait or abort it" when a migration holds `ident`.

    The incoming half on the target: "ACTION NAME: arriving here from another host: wait or abort it".
    A connection without jobs (a recording) and a domain whose job cannot be read pass: the write
    itself then says what is wrong (not found, not running)."""
    read = getattr(conn, "job_stats", None)
    if not callable(read):
        return
    shown = name or ident
    try:
        stats = read(ident)
    except VmtuiError as exc:
        log.debug("job of %s before %s: %s", ident, action, exc)
        if _arriving(conn, ident):
            _refuse_arriving(action, shown)
        return
    if not stats.migrating:
        return
    # Imported here: the history's module is only needed when a migration is found.
    from vmtui.ops.migrate import history as migrate_history

    if stats.operation == "migration-in":
        _refuse_arriving(action, shown)
    else:
        notes = [n for n in migrate_history.inflight() if {ident, shown} & {n.get("domain"), n.get("uuid")}]
        target = notes[0].get("target") if notes else None
        where = f"migrating to {target}" if isinstance(target, str) else "migrating to another host"
        hint = f"`vmtui migrate abort {shown}` stops the migration; it keeps running here"
    raise OperationError(f"{action} {shown}: {where}: wait or abort it", hint=hint)


def _refuse_arriving(action: str, shown: str) -> NoReturn:
    raise OperationError(
        f"{action} {shown}: arriving here from another host: wait or abort it",
        hint=(
            f"`vmtui migrate abort {shown}` stops the migration; the write can be made on the host it leaves, "
            "or here once it has arrived"
        ),
    )


def _arriving(conn: object, ident: str) -> bool:
    """Whether `ident` here is the incoming half of a migration: paused, for the migration.

    The target's libvirt answers no job question about it ("migration statistics are available only
    on the source host"), yet its incoming job holds the state-change lock as the source's does. Its
    state, which takes no lock, says so; on the source the job question is answered before this."""
    find = getattr(conn, "find_by_name", None)
    presence = getattr(conn, "presence", None)
    if not callable(find) or not callable(presence):
        return False
    try:
        found = find(ident)
        here = presence(found[0] if found else ident)
    except VmtuiError as exc:
        log.debug("state of %s: %s", ident, exc)
        return False
    return bool(here.exists and here.state == "paused" and here.reason == "migration")
