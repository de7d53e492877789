"""`vmtui list`, `stats` and `explain` (the lifecycle actions are in `vmtui.cli.lifecycle`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

# rich, the renderers, the metrics and the explainer are imported inside the commands that use
# them: start-up time is paid by every command, and `list --json` needs none of them.
from vmtui.cli.common import (
    ConnectOpt,
    DomainArg,
    FilterOpt,
    HostOpt,
    IntervalOpt,
    JsonOpt,
    ReadOnlyOpt,
    ReplayOpt,
    domain_json,
    emit_json,
    guarded,
)
from vmtui.cli.targets import find_domain, label, on_each_host, open_entry, resolve_targets
from vmtui.drivers.base import Hypervisor
from vmtui.errors import NotFoundError
from vmtui.models import DomainInfo, HostEntry

if TYPE_CHECKING:
    from vmtui.drivers.resources import GuestFacts
    from vmtui.metrics import DomainMetrics
    from vmtui.models import HostInfo, HostSample


def register(app: typer.Typer) -> None:
    app.command("list")(list_domains)
    app.command("stats")(stats)
    app.command("explain")(explain_cmd)


@guarded(read_only_safe=True)
def list_domains(
    *,
    filter_expr: FilterOpt = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    replay: ReplayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Domains on every selected host: host, name, UUID, ID, state, accelerator, vCPUs, memory."""
    from vmtui.filters import parse_filter

    flt = parse_filter(filter_expr or "", strict=True)
    targets = resolve_targets(connect, host, read_only=True, replay=replay)
    outcomes = on_each_host(targets, lambda conn: conn.list_domains())
    rows = [
        (label(o.entry), d)
        for o in outcomes
        for d in (o.value or [])
        if flt.matches(host=label(o.entry), name=d.name, state=d.state)
    ]
    errors = [(label(o.entry), o.error) for o in outcomes if o.error is not None]
    if as_json:
        emit_json(
            {
                "domains": [domain_json(h, d) for h, d in rows],
                "errors": [{"host": h, **e.error_body()} for h, e in errors],
            }
        )
    else:
        if rows or not errors:
            from vmtui.cli.render import console, domains_table

            console().print(domains_table(rows))
        for h, e in errors:
            sys.stderr.write(f"vmtui: error: {e}\n" if h in str(e) else f"vmtui: error: {h}: {e}\n")
    if errors and not rows:
        # Every host failed: that is a failure, with the first host's exit code.
        raise typer.Exit(int(errors[0][1].exit_code))


def _measure(
    domain: str, interval: float, targets: list[HostEntry], *, only_running: bool, guest: bool = False
) -> tuple[HostEntry, DomainInfo, DomainMetrics | None, HostInfo, GuestFacts | None]:
    """The domain's facts and its metrics over `interval` seconds (None when not running and `only_running`).

    Two bulk samples of its host, as the TUI takes them; no other domain's XML is read. With `guest`,
    also what the guest says about itself (None for a recording, which has no guest to ask).
    """
    import time

    from vmtui.drivers.resources import ResourceHost
    from vmtui.metrics import domain_metrics

    entry = find_domain(targets, domain)
    facts = None
    with _open_for_guest(entry) if guest else open_entry(entry) as conn:
        info = conn.domain(domain)
        # explain needs the host's KVM module and EPT/NPT (one SSH round trip for remote hosts); stats does not.
        host_info = conn.host_info(probe=only_running)
        if only_running and info.state != "running":
            return entry, info, None, host_info, None
        if guest and isinstance(conn, ResourceHost):
            facts = conn.guest_facts(info.uuid)
        first = _whole_sample(conn, label(entry), info.uuid)
        if not conn.finite:
            time.sleep(interval)
        second = _whole_sample(conn, label(entry), info.uuid)
    before = next((d for d in first.domains if d.uuid == info.uuid), None)
    now = next((d for d in second.domains if d.uuid == info.uuid), None)
    if now is None:
        raise NotFoundError(f"domain {domain!r} disappeared while it was sampled")
    metrics = domain_metrics(before, now, second.monotonic - first.monotonic, host_cpus=host_info.cpus)
    return entry, info, metrics, host_info, facts


WHOLE_TRIES = 10
"""Samples taken, 0.1 s apart, for a domain's record that another client's query made half (busy)."""


def _whole_sample(conn: Hypervisor, host: str, uuid: str) -> HostSample:
    """A sample of the host with the domain's whole record: a busy domain (another client holds its
    query job, e.g. a TUI polling the same host) answers without its vCPU, disk and balloon counters,
    and two samples of which one is half give no exit or IO rates. Asked again briefly, then taken as is."""
    import time

    sample = conn.sample(host)
    for _ in range(WHOLE_TRIES - 1):
        record = next((d for d in sample.domains if d.uuid == uuid), None)
        if record is None or not record.busy:
            break
        time.sleep(0.1)
        sample = conn.sample(host)
    return sample


def _open_for_guest(entry: HostEntry) -> Hypervisor:
    """Read-write when allowed: libvirt lets only read-write connections talk to a guest agent. A host
    that refuses it (a read-only user) is opened read-only, and the guest facts say the agent was not asked."""
    from dataclasses import replace

    from vmtui.errors import DeniedError

    try:
        return open_entry(entry)
    except DeniedError:
        if entry.read_only:
            raise
        return open_entry(replace(entry, read_only=True))


@guarded(read_only_safe=True)
def stats(
    domain: DomainArg,
    *,
    interval: IntervalOpt = 1.0,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    replay: ReplayOpt = None,
    read_only: ReadOnlyOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Every metric of one domain, from two samples `--interval` seconds apart, and what its guest says
    about itself: IP addresses (agent, else DHCP lease or ARP, with the source), OS and hostname.

    Changes nothing; the connection is read-write only because libvirt lets only such a connection ask
    the guest agent (with --read-only, the facts come from DHCP leases or ARP)."""
    targets = resolve_targets(connect, host, read_only=read_only, replay=replay)
    entry, info, metrics, _, facts = _measure(domain, interval, targets, only_running=False, guest=True)
    if metrics is None:  # cannot happen with only_running=False; keeps the type checker honest
        raise NotFoundError(f"domain {domain!r} could not be sampled")
    if as_json:
        emit_json(
            {
                "host": label(entry),
                "domain": domain_json(label(entry), info),
                "metrics": metrics.to_json(),
                "guest": facts.to_json() if facts is not None else None,
            }
        )
    else:
        from vmtui.cli.render import console, stats_tables

        console().print(stats_tables(label(entry), info, metrics))
        if facts is not None:
            from rich.table import Table

            from vmtui.cli.render_resources import guest_lines

            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold")
            grid.add_column()
            for key, value in guest_lines(facts):
                grid.add_row(key, value)
            console().print(grid)


@guarded(read_only_safe=True)
def explain_cmd(
    domain: DomainArg,
    *,
    interval: IntervalOpt = 1.0,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    replay: ReplayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why this VM costs what it costs: causes ranked by cost, with evidence and the fix."""
    from vmtui.explain import explain

    targets = resolve_targets(connect, host, read_only=True, replay=replay)
    entry, info, metrics, host_info, _ = _measure(domain, interval, targets, only_running=True)
    findings = explain(info, metrics, host_info)
    if as_json:
        emit_json(
            {
                "host": label(entry),
                "domain": domain_json(label(entry), info),
                "findings": [f.to_json() for f in findings],
            }
        )
    else:
        from vmtui.cli.render import console, findings_view

        console().print(findings_view(info, findings))
