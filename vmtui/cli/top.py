"""`vmtui top` (live table or a JSON stream) and `vmtui record` (samples to a file)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vmtui.cli.common import ConnectOpt, HostOpt, JsonOpt, emit_json, guarded
from vmtui.cli.targets import connections, label, resolve_targets
from vmtui.errors import UsageError, VmtuiError

if TYPE_CHECKING:
    from vmtui.collector import Collector, Tick
    from vmtui.metrics import DomainMetrics
    from vmtui.models import DomainInfo

IntervalOpt = Annotated[float, typer.Option("--interval", "-i", min=0.1, help="Seconds between samples.")]


def _rows(ticks: list[tuple[Collector, Tick]]) -> list[tuple[str, DomainInfo | None, DomainMetrics]]:
    rows = []
    for c, t in ticks:
        for uuid, m in sorted(t.domains.items(), key=lambda kv: kv[1].name):
            rows.append((c.host, c.domains.get(uuid), m))
    return rows


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


def _json_line(c: Collector, t: Tick) -> dict[str, object]:
    return {
        "host": c.host,
        "time": t.sample.wall,
        "host_metrics": asdict(t.host),
        "domains": [
            {**m.to_json(), "accelerator": str(c.domains[u].accelerator) if u in c.domains else None}
            for u, m in t.domains.items()
        ],
    }


@guarded
def top(
    *,
    interval: IntervalOpt = 1.0,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Stop after N samples.")] = None,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Live per-VM CPU, steal, overhead, exits, memory and IO; with --json one object per line per sample."""
    from vmtui.collector import Collector

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
                    emit_json(_json_line(c, t))
                done += 1
            return
        from rich.live import Live

        from vmtui.cli.render import console, top_table

        with Live(console=console(), auto_refresh=False, screen=False) as live:
            while count is None or done < count:
                time.sleep(interval)
                ticks = _tick_all(collectors, as_json=False)
                live.update(top_table(_rows(ticks), [t.host for _, t in ticks]), refresh=True)
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
