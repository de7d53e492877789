"""`vmtui lab up|down|status|image`: the local multi-host lab (see `vmtui.lab.manager`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from vmtui.lab.manager import HostReport

from vmtui.cli.common import JsonOpt, emit_json, guarded
from vmtui.cli.runner import steps_with_spinner
from vmtui.errors import UsageError
from vmtui.ops.base import Progress, Step
from vmtui.present import counted, one_line, printable


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console  # lazy: every `vmtui` command pays for imports at start-up

    # No markup: everything printed holds names from hosts ("[red]mk" is a guest's name, not a style).
    return Console(stderr=stderr, soft_wrap=True, markup=False, highlight=False)


lab_app = typer.Typer(
    help="A local lab of real libvirt hosts (lab1..lab4) in namespaces, reached over SSH. Needs root.",
    no_args_is_help=True,
)

HostsOpt = Annotated[int, typer.Option("--hosts", "-n", min=1, max=4, help="How many hosts (1..4).")]
NoGuestsOpt = Annotated[bool, typer.Option("--no-guests", help="Start no guests.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Rebuild even if the image exists.")]


def _lines(show: Progress) -> Callable[[str], None]:
    """The lab reports plain strings: each one a step of the one printer."""
    return lambda text: show(Step(text))


def _print_hosts(reports: list[dict[str, object]], seconds: float, verb: str) -> None:
    console = _console()
    for r in reports:
        guests = r.get("guests") or []
        names = ", ".join(f"{printable(g['name'])} ({g['state']})" for g in guests) if isinstance(guests, list) else ""
        line = f"{r['name']:<5} {r['namespace']:<11} {r['address']:<11} {r['action']:<16}"
        console.print(f"{line} {names}".rstrip(), highlight=False)
        if r.get("error"):
            console.print(f"      error: {r['error']}", highlight=False)
    console.print(f"lab {verb} in {seconds:.1f} s", highlight=False)


@lab_app.command()
@guarded()
def up(hosts: HostsOpt = 2, no_guests: NoGuestsOpt = False, *, as_json: JsonOpt = False) -> None:
    """Start lab1..labN (idempotent), save them as hosts and start their guests."""
    from vmtui.lab import manager

    _run_and_report("up", lambda progress: manager.up(hosts, start_guests=not no_guests, progress=progress), as_json)


@lab_app.command()
@guarded()
def down(*, as_json: JsonOpt = False) -> None:
    """Stop every lab guest, daemon and namespace; remove the lab hosts from the hosts file."""
    from vmtui.lab import manager

    _run_and_report("down", lambda progress: manager.down(progress=progress), as_json)


def _run_and_report(verb: str, run: Callable[[Callable[[str], None]], list[HostReport]], as_json: bool) -> None:
    """Run `up` or `down` with progress on stderr, then report every host (JSON or a table)."""
    began = time.monotonic()
    with steps_with_spinner(as_json) as show:
        reports = [asdict(r) for r in run(_lines(show))]
    seconds = time.monotonic() - began
    if as_json:
        emit_json({"hosts": reports, "seconds": round(seconds, 2)})
    else:
        _print_hosts(reports, seconds, verb)


@lab_app.command()
@guarded()
def restart(
    host: Annotated[str, typer.Argument(help="The lab host whose libvirtd to restart, e.g. lab1.")],
    *,
    as_json: JsonOpt = False,
) -> None:
    """Restart one lab host's libvirtd as a real host does: guests keep running, clients must reconnect."""
    from vmtui.lab import manager

    _run_and_report("restart", lambda progress: [manager.restart(host, progress=progress)], as_json)


@lab_app.command()
@guarded()
def tour(*, as_json: JsonOpt = False) -> None:
    """Measure each claim of the chapter on lab1's real guests (about 2 minutes), with what it means here."""
    from vmtui.lab import manager
    from vmtui.lab import tour as lab_tour

    host = manager.lab_host(1)
    if not manager.is_running(host):
        raise UsageError("the lab is not up", hint="`vmtui lab up` first")
    second = manager.lab_host(2)
    target = second.uri if manager.is_running(second) else None
    began = time.monotonic()
    # The tour runs for minutes: its steps are said on stderr with --json too (stdout stays the result).
    with steps_with_spinner(False) as show:
        rows = lab_tour.run(host.uri, manager.lab_root() / "tour", target_uri=target, progress=show)
    if as_json:
        emit_json({"rows": [r.to_json() for r in rows], "seconds": round(time.monotonic() - began, 1)})
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="The chapter, measured on this host", show_lines=True)
    for col in ("topic", "the chapter says", "measured here", "what it means here"):
        table.add_column(col, overflow="fold")
    for r in rows:
        measured = "\n".join(f"{k} {v}" for k, v in r.measured.items())
        reading = r.reading + (f"\n(needs: {r.needs})" if r.needs else "")
        # Text, never markup: the figures and readings hold brackets and host strings.
        table.add_row(*(Text(cell) for cell in (r.topic, r.chapter, measured, reading)))
    _console().print(table)


@lab_app.command()
@guarded(read_only_safe=True)
def status(*, as_json: JsonOpt = False) -> None:
    """Per host: namespace, address, daemons, reachability over SSH, guests, storage pools."""
    from vmtui.lab import manager

    began = time.monotonic()
    reports = [asdict(r) for r in manager.status()]
    if as_json:
        emit_json({"hosts": reports})
        return
    if not reports:
        _console().print("lab: nothing is up (start it with `vmtui lab up`)", highlight=False)
        return
    console = _console()
    for r in reports:
        pids = " ".join(f"{k}={v or '-'}" for k, v in r["pids"].items())
        reach = "reachable over ssh" if r["reachable"] else "not reachable"
        console.print(f"{r['name']:<5} {r['namespace']:<11} {r['address']:<11} {r['action']:<8} {reach}  {pids}")
        for g in r["guests"]:
            console.print(f"      {printable(g['name']):<18} {g['state']:<9} {g['accelerator']}")
        for p in r["pools"]:
            volumes = "" if p["volumes"] is None else f", {counted(p['volumes'], 'volume', 'volumes')}"
            console.print(f"      pool {printable(p['name'])} ({p['state']}{volumes}) {printable(p['path'])}")
        if r["error"]:
            console.print(f"      error: {one_line(str(r['error']), 400)}")
    console.print(f"status in {time.monotonic() - began:.1f} s", highlight=False)


@lab_app.command()
@guarded(read_only_safe=True)
def image(force: ForceOpt = False, *, as_json: JsonOpt = False) -> None:
    """Build the tiny Linux guest (Debian kernel + busybox initramfs) into the cache dir."""
    from vmtui.lab import image as lab_image

    with steps_with_spinner(as_json) as show:
        built = lab_image.build_image(force=force, progress=_lines(show))
    if as_json:
        emit_json(built.to_json())
    else:
        _console().print(f"kernel {built.kernel}\ninitrd {built.initrd}", highlight=False)
