"""`vmtui top` (live table or a JSON stream) and `vmtui record` (samples to a file).

Both run the monitor's pollers, the same as the TUI's: a host that drops is reported once, marked
stale, reconnected with backoff and carries on with the same guests; the others never wait for it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vmtui.cli.common import (
    ConnectOpt,
    FilterOpt,
    HostOpt,
    IntervalOpt,
    JsonOpt,
    ReplayOpt,
    emit_json,
    guarded,
    seconds_in,
)
from vmtui.cli.targets import resolve_targets
from vmtui.errors import UsageError
from vmtui.models import ACTIVE_STATES, HostEntry
from vmtui.richtext import check_saved_host_colours
from vmtui.settings.load import load_settings
from vmtui.thresholds import Thresholds, domain_figures, worst

if TYPE_CHECKING:
    from vmtui.filters import DomainFilter
    from vmtui.metrics import DomainMetrics
    from vmtui.models import DomainInfo
    from vmtui.monitor.events import HostSampled, MonitorEvent
    from vmtui.monitor.watch import Monitor


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

Row = tuple[str, "DomainInfo | None", "DomainMetrics"]


def _sort_key(sort: SortKey) -> Callable[[Row], tuple[object, ...]]:
    """Key over (host, info, metrics); ties and unknown figures (None, last) fall back to host, then name."""
    figure = FIGURES.get(sort)
    if figure is not None:

        def busiest(row: Row) -> tuple[object, ...]:
            value = figure(row[2])
            return (value is None, -(value or 0.0), row[0], row[2].name)

        return busiest
    if sort is SortKey.host:
        return lambda row: (row[0], row[2].name)
    if sort is SortKey.name:
        return lambda row: (row[2].name, row[0])
    return lambda row: (row[2].state, row[0], row[2].name)


def rows_of(samples: list[HostSampled], flt: DomainFilter, sort: SortKey) -> list[Row]:
    """Every host's domains in one list, ordered across hosts (`--sort cpu`: the fleet's busiest first)."""
    rows: list[Row] = [
        (s.host, s.domains.get(u), m)
        for s in samples
        for u, m in s.tick.domains.items()
        if flt.matches(host=s.host, name=m.name, state=m.state)
    ]
    return sorted(rows, key=_sort_key(sort))


def _report_event(event: MonitorEvent, *, as_json: bool) -> None:
    """A host that went down or came back: said once per change, on stderr (or as a JSON line)."""
    from vmtui.monitor.events import HostConnected, HostDisconnected

    if isinstance(event, HostDisconnected) and event.attempt == 1:
        if as_json:
            emit_json({"host": event.host, "event": "disconnected", "reason": event.reason, "time": event.since})
        else:
            sys.stderr.write(f"vmtui: {event.host}: {event.reason}; retrying with backoff\n")
    elif isinstance(event, HostConnected) and event.reconnected:
        if as_json:
            emit_json({"host": event.host, "event": "reconnected", "time": time.time()})
        else:
            sys.stderr.write(f"vmtui: {event.host}: reconnected\n")


def _json_line(s: HostSampled, flt: DomainFilter, sort: SortKey, thresholds: Thresholds) -> dict[str, object]:
    return {
        "host": s.host,
        "time": s.tick.sample.wall,
        "host_metrics": asdict(s.tick.host),
        "domains": [
            {
                **m.to_json(),
                "accelerator": str(info.accelerator) if info else None,
                "busy": m.uuid in s.tick.busy,
                **_levels_json(m, thresholds),
            }
            for _h, info, m in rows_of([s], flt, sort)
        ],
    }


def _levels_json(m: DomainMetrics, thresholds: Thresholds) -> dict[str, object]:
    """`levels`: every measure's level ("ok", "warn", "critical"); `level`: the worst of them."""
    levels = thresholds.levels(domain_figures(m))
    return {"levels": {k: lv.word for k, lv in levels.items()}, "level": worst(levels.values()).word}


BASE_ROUNDS = 5
"""Samples of a host after which it is shown even with domains still without rates."""


def _has_rates(s: HostSampled, samples: int) -> bool:
    """A host's sample is shown once its domains have rates: its first is only their base, and a domain
    that was busy at its first sight (another client held its query job: a half record) has no base
    until its next whole one. Shown anyway from the BASE_ROUNDS-th sample (a domain busy all along)."""
    if samples < 2:
        return False
    if samples >= BASE_ROUNDS:
        return True
    return all(m.cpu_pct is not None or m.state not in ACTIVE_STATES for m in s.tick.domains.values())


def _start(targets: list[HostEntry]) -> Monitor:
    from vmtui.monitor.watch import Monitor

    monitor = Monitor(targets)
    monitor.start()
    return monitor


def _first_contact(monitor: Monitor, timeout: float, *, as_json: bool) -> None:
    """Wait until every host sampled once (or failed once); refuse when none answers at all."""
    from vmtui.errors import ConnectError
    from vmtui.monitor.events import HostConnected, HostDisconnected

    deadline = time.monotonic() + timeout
    heard: set[str] = set()
    first_error: HostDisconnected | None = None
    while len(heard) < len(monitor.entries) and time.monotonic() < deadline:
        event = monitor.next_event(deadline - time.monotonic())
        if event is None:
            continue
        if isinstance(event, HostDisconnected):
            first_error = first_error or event
            _report_event(event, as_json=as_json)
        if not isinstance(event, HostConnected):
            heard.add(event.host)
    if not monitor.connected and not monitor.ended:
        reason = first_error.reason if first_error else f"no answer within {timeout:g} s"
        raise ConnectError(f"no host answered: {reason}")


@guarded(read_only_safe=True)
def top(
    *,
    interval: IntervalOpt = 1.0,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Stop after N samples.")] = None,
    sort: Annotated[SortKey, typer.Option("--sort", "-s", help="Order of the rows.")] = SortKey.host,
    filter_expr: FilterOpt = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    replay: ReplayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Live per-VM CPU, steal, overhead, exits, memory and IO; with --json one object per line per sample.

    A host that drops is reported once and reconnected with backoff; its rows come back with it.
    """
    from vmtui.drivers.libvirt.connection import connect_timeout
    from vmtui.filters import parse_filter

    flt = parse_filter(filter_expr or "", strict=True)
    targets = resolve_targets(connect, host, read_only=True, replay=replay)
    thresholds = load_settings().thresholds
    check_saved_host_colours()
    colours = {t.name: t.colour for t in targets if t.colour}
    monitor = _start(targets)
    try:
        _first_contact(monitor, connect_timeout() + 5, as_json=as_json)
        live = None
        if not as_json:
            from rich.live import Live

            from vmtui.cli.render import console

            live = Live(console=console(), auto_refresh=False, screen=False)
            live.start()
        done = 0
        seen: dict[str, int] = {}
        """Samples per host so far: a host's first one has no rates yet (the baseline, not shown)."""
        try:
            while (count is None or done < count) and not monitor.finished:
                began = time.monotonic()
                monitor.tick()
                batch = monitor.round(began + max(interval, 0.1) * 0.9 + 0.5)
                for event in batch.events:
                    _report_event(event, as_json=as_json)
                for h in batch.samples:
                    seen[h] = seen.get(h, 0) + 1
                fresh = [s for h, s in batch.samples.items() if _has_rates(s, seen[h])]
                if fresh:
                    done += 1
                    if live is None:
                        for s in fresh:
                            emit_json(_json_line(s, flt, sort, thresholds))
                    else:
                        from vmtui.cli.render import top_view

                        shown = [monitor.last_sample[h] for h in sorted(monitor.last_sample)]
                        view = top_view(
                            rows_of(shown, flt, sort), shown, monitor, thresholds=thresholds, colours=colours
                        )
                        live.update(view, refresh=True)
                if count is not None and done >= count:
                    break
                if not monitor.finished:
                    time.sleep(max(0.0, interval - (time.monotonic() - began)))
        finally:
            if live is not None:
                live.stop()
                live.console.line()  # the table's last row ends with a newline, like any output
    finally:
        monitor.stop()


DurationOpt = Annotated[
    float,
    typer.Option("--duration", "-d", callback=seconds_in(0.5, 86400), help="Seconds to record (0.5-86400)."),
]


@guarded(read_only_safe=True)
def record(
    file: Annotated[Path, typer.Argument(help="Where to write the recording (JSON lines).")],
    *,
    duration: DurationOpt = 10.0,
    interval: IntervalOpt = 1.0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record samples from real hosts, for `vmtui --replay FILE` and for bug reports."""
    from vmtui.drivers.libvirt.connection import connect_timeout
    from vmtui.drivers.replay import sample_line, write_header

    if file.is_dir():
        raise UsageError(f"{file} is a directory")
    if file.exists() and not force:
        raise UsageError(f"{file} exists", hint="add --force to overwrite it")
    if not file.parent.is_dir():
        raise UsageError(f"cannot write {file}: directory {file.parent} does not exist")
    targets = resolve_targets(connect, host, read_only=True)
    monitor = _start(targets)
    samples = 0
    try:
        _first_contact(monitor, connect_timeout() + 5, as_json=as_json)
        try:
            out = file.open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {file}: {exc.strerror}") from exc
        with out:
            hosts = {h: (monitor.last_sample[h].tick, monitor.last_sample[h].domains) for h in monitor.last_sample}
            infos = dict(monitor.infos)
            write_header(out, {h: (infos[h], list(doms.values())) for h, (_t, doms) in hosts.items() if h in infos})
            for h in sorted(hosts):
                out.write(sample_line(hosts[h][0].sample) + "\n")
            samples = 1
            deadline = time.monotonic() + duration
            while time.monotonic() + interval <= deadline:
                time.sleep(interval)
                monitor.tick()
                batch = monitor.round(time.monotonic() + interval * 0.9 + 0.5)
                for event in batch.events:
                    _report_event(event, as_json=as_json)
                for h in sorted(batch.samples):
                    if h in infos:
                        out.write(sample_line(batch.samples[h].tick.sample) + "\n")
                samples += 1
    finally:
        monitor.stop()
    noun = "sample" if samples == 1 else "samples"
    if as_json:
        emit_json({"file": str(file), "hosts": sorted(infos), "samples": samples})
    else:
        typer.echo(f"recorded {samples} {noun} of {len(infos)} host(s) to {file}")


def register(app: typer.Typer) -> None:
    """`top` and `record`: the commands that watch hosts over time (and `vmtui.cli.export`, beside them)."""
    app.command("top")(top)
    app.command("record")(record)
