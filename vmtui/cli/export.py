"""`vmtui export`: the fleet's metrics as a Prometheus endpoint (see docs/export.md).

The command only validates, starts `vmtui.export.server.Exporter` and waits. prometheus-client and the
monitor are imported when the command runs: every other command's start-up stays as it was.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Annotated

import typer

from vmtui.cli.common import ConnectOpt, HostOpt, JsonOpt, RoundIntervalOpt, emit_json, guarded
from vmtui.cli.targets import resolve_targets
from vmtui.errors import UsageError
from vmtui.richtext import check_saved_host_colours
from vmtui.settings.load import load_settings

ListenOpt = Annotated[
    str,
    typer.Option(
        "--listen",
        "-l",
        help="HOST:PORT to serve /metrics on ([::1]:PORT for IPv6; port 0 picks a free one). Loopback unless "
        "--allow-remote.",
    ),
]
AllowRemoteOpt = Annotated[
    bool,
    typer.Option(
        "--allow-remote",
        help="Let --listen take an address other hosts can reach (the endpoint has no authentication).",
    ),
]

RulesOpt = Annotated[
    bool,
    typer.Option(
        "--rules",
        help="Print Prometheus alerting rules (YAML) from the [thresholds] of config.toml and exit; serves nothing.",
    ),
]


@guarded(read_only_safe=True)
def export(
    *,
    listen: ListenOpt = "127.0.0.1:19177",
    allow_remote: AllowRemoteOpt = False,
    interval: RoundIntervalOpt = 5.0,
    connect: ConnectOpt = None,
    host: HostOpt = None,
    as_json: JsonOpt = False,
    rules: RulesOpt = False,
) -> None:
    """Serve every selected host's metrics to Prometheus, polling each host every --interval seconds.

    A scrape never waits on a host: it gets each host's last sample with its age (vmtui_host_up says which are down).
    With --rules: print Prometheus alerting rules from the [thresholds] of config.toml, and serve nothing.

    Ctrl-C exits 130, SIGTERM exits 0. Metrics, scrape config and queries: docs/export.md.
    """
    if rules:
        _print_rules(as_json=as_json)
        return
    from vmtui.export.server import Exporter, is_loopback, parse_listen

    address = parse_listen(listen)
    if not allow_remote and not is_loopback(address.host):
        raise UsageError(
            f"--listen {address}: not a loopback address, and the endpoint has no authentication",
            hint="add --allow-remote to serve other hosts, or put it behind a proxy",
        )
    targets = resolve_targets(connect, host, read_only=True)
    exporter = Exporter(targets, interval=interval, listen=address)
    bound = exporter.start()
    try:
        _stop_on_sigterm(exporter.request_stop)
        hosts = [t.name for t in targets]
        if as_json:
            emit_json({"listen": str(bound), "url": f"http://{bound}/metrics", "hosts": hosts, "interval": interval})
        else:
            sys.stderr.write(f"vmtui: serving {len(hosts)} host(s) on http://{bound}/metrics every {interval:g} s\n")
        exporter.wait()
    finally:
        exporter.stop()


def _print_rules(*, as_json: bool) -> None:
    """The alerting rules on stdout, for Prometheus' `rule_files`; no host is contacted."""
    if as_json:
        raise UsageError("--rules prints a YAML rules file; it has no --json form")
    from vmtui.export.rules import rules_yaml

    thresholds = load_settings().thresholds
    check_saved_host_colours()  # as every face: a broken hosts.toml refuses here too
    sys.stdout.write(rules_yaml(thresholds))


def _stop_on_sigterm(stop: Callable[[], None]) -> None:
    """SIGTERM (a service manager stopping us) ends the command cleanly, with exit 0."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set there (a test calling the command in a thread)

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
