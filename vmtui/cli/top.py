"""`vmtui top` (live table or a JSON stream) and `vmtui record` (samples to a file)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vmtui.cli.common import ConnectOpt, FilterOpt, HostOpt, JsonOpt, emit_json, guarded
from vmtui.cli.targets import connections, label, resolve_targets
from vmtui.errors import UsageError, VmtuiError

if TYPE_CHECKING:
    from vmtui.collector import Collector, Tick
    from vmtui.filters import DomainFilter
    from vmtui.metrics import DomainMetrics
    from vmtui.models import DomainInfo

IntervalOpt = Annotated[float, typer.Option("--interval", "-i", min=0.1, help="Seconds between samples.")]


class SortKey(StrEnum):
    """`top --sort`: text keys sort A-Z, figures busiest first (as `s` in the TUI's table)."""

    host = "host"
    name = "name"
    state = "state"
    cpu = "cpu"
    steal = "steal"
    overhead = "overhead"
    exits = "exits"
    memory = "memory"
    disk = "disk"
    net = "net"


def _total(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


FIGURES: dict[SortKey, Callable[[DomainMetrics], float | None]] = {
    SortKey.cpu: lambda m: m.cpu_pct,
    SortKey.steal: lambda m: m.steal_pct,
    SortKey.overhead: lambda m: m.overhead_pct,
    SortKey.exits: lambda m: m.exits_per_s,
    SortKey.memory: lambda m: m.balloon_current_kib,
    SortKey.disk: lambda m: _total(m.disk_read_bps, m.disk_write_bps),
    SortKey.net: lambda m: _total(m.net_rx_bps, m.net_tx_bps),
}


def _sort_key(sort: SortKey) -> Callable[[tuple[str, DomainMetrics]], tuple[object, ...]]:
    """Key over (host, metrics); ties and unknown figures (None, last) fall back to host, then name."""
    figure = FIGURES.get(sort)
    if figure is not None:

        def busiest(row: tuple[str, DomainMetrics]) -> tuple[object, ...]:
            value = figure(row[1])
            return (value is None, -(value or 0.0), row[0], row[1].name)

        return busiest
    if sort is SortKey.host:
        return lambda row: (row[0], row[1].name)
    if sort is SortKey.name:
        return lambda row: (row[1].name, row[0])
    return lambda row: (row[1].state, row[0], row[1].name)


def _pick(
    host: str, metrics: dict[str, DomainMetrics], flt: DomainFilter, sort: SortKey
) -> list[tuple[str, DomainMetrics]]:
    """One host's domains (UUID, metrics) that pass the filter, in the requested order."""
    kept = [(u, m) for u, m in metrics.items() if flt.matches(host=host, name=m.name, state=m.state)]
    key = _sort_key(sort)
    return sorted(kept, key=lambda um: key((host, um[1])))


def _rows(
    ticks: list[tuple[Collector, Tick]], flt: DomainFilter, sort: SortKey
) -> list[tuple[str, DomainInfo | None, DomainMetrics]]:
    """Every host's domains in one table, ordered across hosts (`--sort cpu`: the fleet's busiest first)."""
    rows = [
        (c.host, c.domains.get(u), m)
        for c, t in ticks
        for u, m in t.domains.items()
        if flt.matches(host=c.host, name=m.name, state=m.state)
    ]
    key = _sort_key(sort)
    return sorted(rows, key=lambda r: key((r[0], r[2])))


def _host_failed(host: str, exc: VmtuiError, *, as_json: bool) -> None:
    """A host that fails is reported once and dropped; the others go on."""
    if as_json:
        emit_json({"host": host, **exc.to_json()})
    else:
        sys.stderr.write(f"vmtui: error: {host}: {exc}\n")


def _tick_all(collectors: list[Collector], *, as_json: bool) -> list[tuple[Collector, Tick]]:
    ticks = []
    for c in list(collectors):
        try:
            ticks.append((c, c.tick()))
        except VmtuiError as exc:
            _host_failed(c.host, exc, as_json=as_json)
            collectors.remove(c)
    if not collectors:
        raise VmtuiError("no host is answering any more")
    return ticks


def _json_line(c: Collector, t: Tick, flt: DomainFilter, sort: SortKey) -> dict[str, object]:
    return {
        "host": c.host,
        "time": t.sample.wall,
        "host_metrics": asdict(t.host),
        "domains": [
            {**m.to_json(), "accelerator": str(c.domains[u].accelerator) if u in c.domains else None}
            for u, m in _pick(c.host, dict(t.domains), flt, sort)
        ],
    }


@guarded
def top(
    *,
    interval: IntervalOpt = 1.0,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Stop after N samples.")] = None,
    sort: Annotated[SortKey, typer.Option("--sort", "-s", help="Order of the rows.")] = SortKey.host,
    filter_expr: FilterOpt = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Live per-VM CPU, steal, overhead, exits, memory and IO; with --json one object per line per sample."""
    from vmtui.collector import Collector
    from vmtui.filters import parse_filter

    flt = parse_filter(filter_expr or "", strict=True)
    targets = resolve_targets(connect, host, read_only=True)
    with connections(targets, tolerate=True) as (opened, errors):
        for entry, err in errors:
            _host_failed(label(entry), err, as_json=as_json)
        collectors = [Collector(conn, label(entry)) for entry, conn in opened]
        _tick_all(collectors, as_json=as_json)  # the baseline: rates need two samples
        done = 0
        if as_json:
            while count is None or done < count:
                time.sleep(interval)
                for c, t in _tick_all(collectors, as_json=True):
                    emit_json(_json_line(c, t, flt, sort))
                done += 1
            return
        from rich.live import Live

        from vmtui.cli.render import console, top_table

        with Live(console=console(), auto_refresh=False, screen=False) as live:
            while count is None or done < count:
                time.sleep(interval)
                ticks = _tick_all(collectors, as_json=False)
                live.update(top_table(_rows(ticks, flt, sort), [t.host for _, t in ticks]), refresh=True)
                done += 1


@guarded
def record(
    file: Annotated[Path, typer.Argument(help="Where to write the recording (JSON lines).")],
    *,
    duration: Annotated[float, typer.Option("--duration", "-d", min=0.5, help="Seconds to record.")] = 10.0,
    interval: IntervalOpt = 1.0,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record samples from real hosts, for `vmtui --replay FILE` and for bug reports."""
    from vmtui.collector import Collector
    from vmtui.drivers.recording import sample_line, write_header

    if file.exists() and file.is_dir():
        raise UsageError(f"{file} is a directory")
    targets = resolve_targets(connect, host, read_only=True)
    samples = 0
    with connections(targets) as (opened, _), file.open("w", encoding="utf-8") as out:
        collectors = [Collector(conn, label(entry)) for entry, conn in opened]
        write_header(out, {c.host: (c.info, list(c.domains.values())) for c in collectors})
        deadline = time.monotonic() + duration
        while True:
            for c in collectors:
                out.write(sample_line(c.tick().sample) + "\n")
            samples += 1
            if time.monotonic() + interval > deadline:
                break
            time.sleep(interval)
    if as_json:
        emit_json({"file": str(file), "hosts": [c.host for c in collectors], "samples": samples})
    else:
        typer.echo(f"recorded {samples} samples of {len(collectors)} host(s) to {file}")
