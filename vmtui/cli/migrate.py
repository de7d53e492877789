"""`vmtui migrate DOMAIN DEST_HOST`, `migrate history|jobs|attach|abort`, and `vmtui place DOMAIN`.

The work is `vmtui.ops.migrate` (the TUI calls the same functions); this module opens the hosts,
turns Ctrl-C into an abort of the job (exit 130), and prints: a progress bar on stderr, or JSON lines.
rich and the operations are imported inside the commands: every `vmtui` command pays for imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vmtui.cli.common import ConnectOpt, DomainArg, HostOpt, JsonOpt, ReadOnlyOpt, emit_json, guarded
from vmtui.cli.default_group import defaulting_to
from vmtui.cli.migrate_terminal import shield
from vmtui.cli.runner import run_op
from vmtui.cli.targets import label
from vmtui.errors import ExitCode, NotFoundError, UsageError, VmtuiError
from vmtui.models import HostEntry

if TYPE_CHECKING:
    import threading

    from vmtui.drivers.libvirt.driver import Connection
    from vmtui.ops.base import Progress
    from vmtui.ops.migrate import MigrationResult


migrate_app = typer.Typer(
    cls=defaulting_to("start"),  # `vmtui migrate DOMAIN DEST` is `vmtui migrate start DOMAIN DEST`
    help="Live migration over SSH: `vmtui migrate DOMAIN DEST_HOST`; history, jobs in flight, attach, abort.",
    no_args_is_help=True,
)

DestArg = Annotated[str, typer.Argument(help="Target: a saved host name, or a libvirt URI.")]


def _entry(dest: str) -> HostEntry:
    """A saved host by name, or an ad-hoc URI."""
    from vmtui.config import HostStore

    if "://" in dest or dest.startswith("qemu:"):
        return HostEntry(dest, dest)
    return HostStore().get(dest)


def _open(entry: HostEntry) -> Connection:
    from vmtui.drivers import connect
    from vmtui.drivers.uri import is_replay_uri

    if is_replay_uri(entry.uri):
        raise UsageError(f"{entry.name} is a recording: it cannot take part in a migration")
    return connect(entry.uri or None, read_only=entry.read_only)


def _source(domain: str, targets: list[HostEntry], dest: HostEntry) -> HostEntry:
    """The host that runs `domain` (never the target: a definition left there must not confuse the search).

    With one candidate nothing is asked here: the migration's own connection to it finds the domain
    or says it is not there (`_refuse_if_already_there`), and one SSH handshake is saved.
    """
    from vmtui.cli.targets import find_domain

    candidates = [t for t in targets if t.uri != dest.uri and t.name != dest.name] or targets
    if len(candidates) == 1:
        return candidates[0]
    try:
        return find_domain(candidates, domain)
    except NotFoundError:
        with _open(dest) as conn:
            _refuse_if_already_there(conn, dest.name, domain)
        raise


def _refuse_if_already_there(dst: Connection, target: str, domain: str) -> None:
    """A UsageError when `domain` is already on the target: nothing to migrate."""
    try:
        dst.domain(domain)
    except NotFoundError:
        return
    raise UsageError(f"{domain} already runs on {target}", hint="nothing to migrate")


@contextmanager
def _both(
    src_entry: HostEntry, dst_entry: HostEntry, *, meanwhile: Callable[[], object] = lambda: None
) -> Iterator[tuple[Connection, Connection | VmtuiError]]:
    """Open source and target in parallel (an SSH handshake each); the target's failure is handed back.

    `meanwhile` runs on this thread while the handshakes do, which mostly wait on ssh and the hosts.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        src_f, dst_f = pool.submit(_open, src_entry), pool.submit(_open, dst_entry)
        meanwhile()
        dst_exc = dst_f.exception()
        src_exc = src_f.exception()
    opened = [f.result() for f in (src_f, dst_f) if f.exception() is None]
    try:
        if src_exc is not None:
            raise src_exc
        dst: Connection | VmtuiError
        if dst_exc is None:
            dst = dst_f.result()
        elif isinstance(dst_exc, VmtuiError):
            dst = dst_exc
        else:
            raise dst_exc
        yield src_f.result(), dst
    finally:
        for conn in opened:
            conn.close()


@migrate_app.command("start")
@guarded()
def migrate_cmd(
    domain: DomainArg,
    dest: DestArg,
    *,
    bandwidth: Annotated[int | None, typer.Option("--bandwidth", help="Cap in MiB/s (pre-copy and post-copy).")] = None,
    max_downtime: Annotated[
        int, typer.Option("--max-downtime", help="Max downtime to start with, ms (the stall policy raises it).")
    ] = 100,
    auto_converge: Annotated[bool, typer.Option("--auto-converge", help="Throttle the guest's vCPUs.")] = False,
    postcopy: Annotated[
        bool, typer.Option("--postcopy", help="Allow post-copy; the stall policy switches to it on a stall.")
    ] = False,
    compressed: Annotated[bool, typer.Option("--compressed", help="Compress pages (XBZRLE).")] = False,
    parallel: Annotated[int | None, typer.Option("--parallel", help="Parallel connections (2-32).")] = None,
    tunnelled: Annotated[bool, typer.Option("--tunnelled", help="Through the libvirtd connection.")] = False,
    temporary: Annotated[
        bool, typer.Option("--temporary", help="Do not persist on the target nor undefine on the source.")
    ] = False,
    copy_storage: Annotated[bool, typer.Option("--copy-storage", help="Copy non-shared disks too.")] = False,
    no_stall_policy: Annotated[
        bool, typer.Option("--no-stall-policy", help="Report stalls but change nothing (plain pre-copy).")
    ] = False,
    precheck_only: Annotated[
        bool, typer.Option("--precheck-only", help="Pre-checks and forecast only; start nothing.")
    ] = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Migrate DOMAIN live to DEST_HOST (peer-to-peer, persistent there, undefined here)."""
    from vmtui.config import resolve_targets
    from vmtui.ops.migrate import MigrationOptions, migrate
    from vmtui.ops.migrate.precheck import unreachable

    options = MigrationOptions(
        bandwidth_mib_s=bandwidth, max_downtime_ms=max_downtime, auto_converge=auto_converge, postcopy=postcopy,
        compressed=compressed, parallel=parallel, tunnelled=tunnelled, temporary=temporary,
        copy_storage=copy_storage, stall_policy=not no_stall_policy,
    )  # fmt: skip
    options.validate()  # before any host is contacted
    if read_only and not precheck_only:
        raise UsageError("--read-only: a migration changes both hosts; only --precheck-only reads")
    dst_entry = _entry(dest)
    shield()  # before the first connection: libvirt's threads must not exist yet when we fork
    src_entry = _source(domain, resolve_targets(connect, host, read_only=read_only), dst_entry)
    if read_only:
        dst_entry = HostEntry(dst_entry.name, dst_entry.uri, True)
    source, target = label(src_entry), dst_entry.name
    # The output's imports (rich: ~25 ms) overlap the SSH handshakes: a migration's wall time counts.
    with (
        _both(src_entry, dst_entry, meanwhile=_load_output) as (src, dst),
        _printer(as_json, f"{domain} -> {target}") as progress,
    ):
        try:
            src.domain(domain)
        except NotFoundError:
            if not isinstance(dst, VmtuiError):
                _refuse_if_already_there(dst, target, domain)
            raise
        if isinstance(dst, VmtuiError):
            report = unreachable(src.domain(domain), source, target, dst)
            for check in report.checks:
                progress(_check_step(check.to_json()))
            raise dst
        # Ctrl-C aborts the job (the runner's cancel); the source keeps running.
        result = _run_job(
            lambda progress, cancel: migrate(
                src, dst, domain, options, source=source, target=target, target_uri=dst_entry.uri,
                precheck_only=precheck_only, progress=progress, cancel=cancel,
            ),
            progress, as_json=as_json,
        )  # fmt: skip
    _report(result, as_json=as_json)


def _run_job(
    job: Callable[[Progress, threading.Event], MigrationResult], progress: Progress, *, as_json: bool
) -> MigrationResult:
    """Run a migration (or the watch of one) through the one runner; a failed job's result is shown first."""
    try:
        return run_op(job, progress)
    except VmtuiError as exc:
        failed = getattr(exc, "result", None)
        if failed is not None:
            _report(failed, as_json=as_json)
        raise


def _check_step(data: dict[str, Any]) -> Any:
    from vmtui.ops.base import Step

    return Step(f"{data['label']}: {data['status']}: {data['reason']}", 0.0, {"type": "precheck", **data})


def _load_output() -> None:
    import vmtui.cli.migrate_render  # noqa: F401


def _printer(as_json: bool, label_text: str) -> Any:
    from vmtui.cli.migrate_render import JsonProgress, ProgressPrinter

    if as_json:

        @contextmanager
        def quiet() -> Iterator[JsonProgress]:
            yield JsonProgress()

        return quiet()
    return ProgressPrinter(label_text)


def _report(result: MigrationResult, *, as_json: bool) -> None:
    if as_json:
        emit_json({"type": "result", **result.to_json()})
        return
    from vmtui.cli.migrate_render import result_text, stdout_console

    stdout_console().print(result_text(result))


@migrate_app.command("history")
@guarded(read_only_safe=True)
def history_cmd(
    *,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="The newest N migrations.")] = 20,
    host: Annotated[
        list[str] | None,
        typer.Option("--host", "-H", help="Only migrations from or to this host (as recorded); repeatable."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every migration vmtui ran, newest last: options, times, downtime, bytes, passes, result."""
    from vmtui.ops.migrate import history as migrate_history

    records = migrate_history.read()
    if host:
        # The history is a local file: -H chooses which hosts' migrations to show, no host is contacted.
        records = [r for r in records if r.get("source") in host or r.get("target") in host]
    records = records[-limit:]
    if as_json:
        emit_json({"migrations": records, "file": str(migrate_history.history_file())})
        return
    from vmtui.cli.migrate_render import history_table, stdout_console

    stdout_console().print(history_table(records))


@migrate_app.command("jobs")
@guarded(read_only_safe=True)
def jobs_cmd(*, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """Migrations in flight on the selected hosts, including ones a vmtui that died left running; and
    migrations whose end was unknown, settled now if their source answers."""
    from vmtui.cli.targets import on_each_host, resolve_targets
    from vmtui.ops.migrate.inflight import InflightJob, find_inflight

    targets = resolve_targets(connect, host, read_only=True)

    def work(conn: Any) -> list[InflightJob]:
        return find_inflight(conn, "")

    outcomes = on_each_host(targets, work)
    jobs = [
        InflightJob(label(o.entry), j.uuid, j.domain, j.stats, j.target, j.orphaned, j.note)
        for o in outcomes
        for j in o.value or []
    ]
    errors = [(label(o.entry), o.error) for o in outcomes if o.error is not None]
    settled = _settle_unknown()
    if as_json:
        emit_json({"jobs": [j.to_json() for j in jobs], "errors": [{"host": h, **e.error_body()} for h, e in errors],
                   "settled": [_settled_json(r) for r in settled]})  # fmt: skip
        return
    from vmtui.cli.migrate_render import jobs_table, settled_text, stdout_console

    console = stdout_console()
    console.print(jobs_table(jobs, [(h, e.message) for h, e in errors]))
    for result in settled:
        console.print(settled_text(result))


def _settle_unknown() -> list[MigrationResult]:
    """Every migration whose end was unknown, decided now where its source answers (RELIABILITY #30)."""
    from vmtui.ops.migrate.inflight import unsettled

    return [r for r in (_settle(note) for note in unsettled()) if r is not None]


def _settle(note: dict[str, Any]) -> MigrationResult | None:
    """Open the noted source and target and settle the job; a source that still does not answer leaves
    it unknown (returned as such, with why). Settling only reads the hosts: read-only connections."""
    from dataclasses import replace

    from vmtui.ops.migrate import MigrationOptions, MigrationResult
    from vmtui.ops.migrate.inflight import settle

    uri = note.get("source_uri")
    if not isinstance(uri, str):
        return None  # a note of an older vmtui: nothing to reach its source with
    source = HostEntry(str(note.get("source") or uri), uri, True)
    target = _noted_target(note)
    try:
        src = _open(source)
    except VmtuiError as exc:
        return MigrationResult(
            domain=str(note.get("domain")), uuid=str(note.get("uuid")), source=source.name,
            target=str(note.get("target")), outcome="unknown", options=MigrationOptions(),
            message=f"{note.get('domain')}: the end is still unknown: {source.name} does not answer ({exc.message})",
        )  # fmt: skip
    dst = _try_open(replace(target, read_only=True) if target is not None else None)
    try:
        return settle(src, dst, note)
    finally:
        src.close()
        if dst is not None:
            dst.close()


def _settled_json(result: MigrationResult) -> dict[str, Any]:
    return {key: getattr(result, key) for key in ("domain", "uuid", "source", "target", "outcome", "message",
                                                  "source_state", "target_state")}  # fmt: skip


@migrate_app.command("attach")
@guarded()
def attach_cmd(
    domain: DomainArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch a migration already running (Ctrl-C aborts it); its end is decided and recorded as for `migrate`."""
    from vmtui.config import resolve_targets
    from vmtui.ops.migrate import history as migrate_history
    from vmtui.ops.migrate.inflight import watch

    targets = resolve_targets(connect, host)
    shield()  # before the first connection: libvirt's threads must not exist yet when we fork
    unknown = [n for n in migrate_history.unknown() if domain in (n.get("domain"), n.get("uuid"))]
    settled = _settle(unknown[0]) if unknown else None
    if settled is not None:  # a job whose end was unknown: decided now, if its source answers
        _report(settled, as_json=as_json)
        if settled.outcome != "completed":
            raise typer.Exit(int(_exit_of(settled.outcome)))
        return
    src_entry = _migrating_from(targets, domain)
    with _open(src_entry) as src:
        uuid = src.domain(domain).uuid
        note = next(iter(migrate_history.inflight(uuid)), {})
        dst_entry = _noted_target(note)
        dst = _try_open(dst_entry)
        target = dst_entry.name if dst_entry else None
        try:
            with _printer(as_json, f"{domain} (attached)") as printer:
                result = _run_job(
                    lambda progress, cancel: watch(src, uuid, dst=dst, source=label(src_entry), target=target,
                                                   progress=progress, cancel=cancel),
                    printer, as_json=as_json,
                )  # fmt: skip
        finally:
            if dst is not None:
                dst.close()
    _report(result, as_json=as_json)


def _exit_of(outcome: str) -> ExitCode:
    return {"completed": ExitCode.OK, "cancelled": ExitCode.INTERRUPTED, "unknown": ExitCode.UNKNOWN}.get(
        outcome, ExitCode.FAILED
    )


def _migrating_from(targets: list[HostEntry], domain: str) -> HostEntry:
    """The host a migration of `domain` leaves: during the job the domain is on both hosts.

    A host that did not answer is said so: it may be the source, and the domain's other host (the
    target, holding the incoming half) is not where the job can be watched or aborted."""
    from vmtui.cli.targets import find_domain, on_each_host

    if len(targets) == 1:
        return targets[0]

    def outgoing(conn: Any) -> bool:
        stats = conn.job_stats(conn.domain(domain).uuid)
        return bool(stats.migrating and stats.operation == "migration-out")

    outcomes = on_each_host(targets, outgoing)
    sources = [o.entry for o in outcomes if o.value]
    if len(sources) == 1:
        return sources[0]
    silent = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, NotFoundError)]
    if not sources and silent:
        raise silent[0]
    return find_domain(targets, domain)


def _noted_target(note: dict[str, Any]) -> HostEntry | None:
    target, uri = note.get("target"), note.get("target_uri")
    if isinstance(target, str) and isinstance(uri, str):
        return HostEntry(target, uri)
    return None


def _try_open(entry: HostEntry | None) -> Connection | None:
    if entry is None:
        return None
    try:
        return _open(entry)
    except VmtuiError:
        return None  # the end is then decided from the source alone, and says so


@migrate_app.command("abort")
@guarded()
def abort_cmd(
    domain: DomainArg,
    *,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Abort the migration running on DOMAIN (on its source host); the source keeps running."""
    from vmtui.config import resolve_targets
    from vmtui.ops.migrate.inflight import abort

    entry = _migrating_from(resolve_targets(connect, host), domain)
    with _open(entry) as conn:
        name = abort(conn, domain, host=label(entry))
    if as_json:
        emit_json({"aborted": {"domain": name, "host": label(entry)}})
    else:
        typer.echo(f"abort requested: the migration of {name} on {label(entry)} stops; {name} keeps running there")


@guarded(read_only_safe=True)
def place_cmd(domain: DomainArg, *, connect: ConnectOpt = None, host: HostOpt = None, as_json: JsonOpt = False) -> None:
    """Rank the saved hosts by room for DOMAIN: free memory, CPU load, migration pre-checks."""
    from vmtui.cli.targets import find_domain
    from vmtui.config import HostStore, resolve_targets
    from vmtui.ops.place import assess, in_maintenance, rank

    src_entry = find_domain(resolve_targets(connect, host, read_only=True), domain)
    saved = HostStore().load()
    # A host in maintenance is not a candidate (not even contacted); the current host is always assessed.
    held = [e for e in saved if e.maintenance and e.uri != src_entry.uri]
    candidates = [HostEntry(e.name, e.uri, True) for e in saved if e not in held]
    if not any(c.uri == src_entry.uri for c in candidates):
        candidates.insert(0, HostEntry(label(src_entry), src_entry.uri, True))
    with _open(HostEntry(src_entry.name, src_entry.uri, True)) as src:
        info = src.domain(domain)

        def one(entry: HostEntry) -> Any:
            try:
                conn: Connection | VmtuiError = _open(entry)
            except VmtuiError as exc:
                conn = exc
            try:
                return assess(src, info, entry.name if entry.uri != src_entry.uri else label(src_entry), conn,
                              source=label(src_entry))  # fmt: skip
            finally:
                if not isinstance(conn, VmtuiError):
                    conn.close()

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(candidates)))) as pool:
            assessed = list(pool.map(one, candidates))
    placements = rank(assessed) + [in_maintenance(e.name) for e in held]
    if as_json:
        emit_json({"domain": info.name, "uuid": info.uuid, "source": label(src_entry),
                   "hosts": [p.to_json() for p in placements]})  # fmt: skip
        return
    from vmtui.cli.migrate_render import placement_table, stdout_console

    stdout_console().print(placement_table(info.name, placements))
    if not any(p.score is not None for p in placements):
        raise typer.Exit(int(ExitCode.FAILED))


def register(app: typer.Typer) -> None:
    app.add_typer(migrate_app, name="migrate")
    app.command("place")(place_cmd)
