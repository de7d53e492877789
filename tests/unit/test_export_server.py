"""`vmtui export` without the lab: the endpoint over a recording and libvirt's test driver, and its CLI contract.

Every server listens on 127.0.0.1 port 0 (the system picks a free port; the exporter reports which), and
every process or thread a test starts is stopped in a `finally`.
"""

from __future__ import annotations

import gzip
import inspect
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import VMTUI, run_vmtui
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.replay import load_recording, replay_entries
from vmtui.errors import UsageError
from vmtui.export.server import Exporter, Listen, is_loopback, parse_listen
from vmtui.models import HostEntry
from vmtui.monitor.poller import open_host

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "lab-2hosts.jsonl"
TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
"""The one domain of libvirt's test:///default."""
WAIT = 30.0
"""Upper bound for something that normally takes well under a second; never asserted on."""


def fetch(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def until(url: str, name: str, want: float, **labels: str) -> Series:
    """Scrape until `name{labels}` reads `want` (the pollers work in the background; a host starts down)."""
    key = (name, frozenset(labels.items()))
    deadline = time.monotonic() + WAIT
    while True:
        series = fetch(url)
        if series.get(key) == want or time.monotonic() > deadline:
            return series
        time.sleep(0.1)


def test_listen_addresses_are_parsed_and_checked() -> None:
    assert parse_listen("127.0.0.1:19177") == Listen("127.0.0.1", 19177)
    assert parse_listen("localhost:9") == Listen("localhost", 9)
    assert parse_listen("[::1]:0") == Listen("::1", 0)
    assert parse_listen("9100") == Listen("127.0.0.1", 9100)
    assert str(Listen("::1", 19177)) == "[::1]:19177"
    for bad in ("127.0.0.1:", "127.0.0.1:70000", ":19177", "::1:19177", "host:port", "127.0.0.1:٣", "[zz]:1", "a..b:1"):
        with pytest.raises(UsageError):
            parse_listen(bad)
    assert is_loopback("127.0.0.2")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("10.200.0.1")


def test_endpoint_serves_a_recording_then_marks_its_hosts_down_when_it_ends() -> None:
    exporter = Exporter(replay_entries(FIXTURE), interval=0.5, listen=Listen("127.0.0.1", 0))
    bound = exporter.start()
    try:
        assert bound.port != 0
        url = f"http://{bound}/metrics"
        # Down because its recording ended, not merely not connected yet (every host starts down).
        series = until(url, "vmtui_host_error_info", 1.0, host="lab2", reason="recording ended")
        assert series[("vmtui_host_up", frozenset({("host", "lab2")}))] == 0
        last = max(s.wall for s in load_recording(FIXTURE).samples["lab2"])
        assert series[("vmtui_host_last_sample_timestamp_seconds", frozenset({("host", "lab2")}))] == last
        assert series[("vmtui_host_error_info", frozenset({("host", "lab2"), ("reason", "recording ended")}))] == 1
        assert ("process_cpu_seconds_total", frozenset()) in series  # the exporter's own cost
        # Asked as Prometheus asks (OpenMetrics first, gzip): the plain text format, gzipped.
        accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        req = urllib.request.Request(url, headers={"Accept": accept, "Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert resp.headers["Content-Encoding"] == "gzip"
            text = gzip.decompress(resp.read()).decode()
        assert 'vmtui_host_up{host="lab2"} 0.0' in text
    finally:
        exporter.stop()


def test_a_scrape_never_waits_for_a_host_that_hangs() -> None:
    release = threading.Event()
    live = HostEntry("live", "test:///default")  # libvirt's test driver, in process: it never ends

    def connector(entry: HostEntry) -> Hypervisor:
        if entry.name == "hung":
            release.wait()  # like open() over SSH to a host that never answers
            raise UsageError("released")
        return open_host(entry)

    entries = [live, HostEntry("hung", "qemu+ssh://nowhere/system")]
    exporter = Exporter(entries, interval=0.5, listen=Listen("127.0.0.1", 0), connector=connector)
    url = f"http://{exporter.start()}/metrics"
    try:
        series = until(url, "vmtui_host_up", 1.0, host="live")
        assert series[("vmtui_host_up", frozenset({("host", "live")}))] == 1
        assert series[("vmtui_host_up", frozenset({("host", "hung")}))] == 0
        assert ("vmtui_host_sample_age_seconds", frozenset({("host", "hung")})) not in series
    finally:
        release.set()
        exporter.stop()


def test_the_exporters_pollers_compute_no_domain_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rates and percentages the TUI shows are not exported (Prometheus computes rates from the
    counters): the exporter's pollers do not compute them (issue 26: three quarters of a QEMU fleet's poll)."""
    from vmtui.metrics import domain_metrics

    derived: list[str] = []
    real = domain_metrics

    def counted(*args: Any, **kwargs: Any) -> Any:
        derived.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr("vmtui.monitor.collector.domain_metrics", counted)
    exporter = Exporter([HostEntry("live", "test:///default")], interval=0.2, listen=Listen("127.0.0.1", 0))
    url = f"http://{exporter.start()}/metrics"
    try:
        series = until(url, "vmtui_domain_busy", 0.0, host="live", domain="test", uuid=TEST_UUID)
        domain = frozenset({("host", "live"), ("domain", "test"), ("uuid", TEST_UUID)})
        assert series[("vmtui_domain_busy", domain)] == 0  # sampled, and exported
        assert exporter.monitor.pollers[0].samples >= 1
        assert derived == []
    finally:
        exporter.stop()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--listen", "0.0.0.0:19177"], "--allow-remote"),
        (["--listen", "[::]:19177"], "--allow-remote"),
        (["--listen", "127.0.0.1:99999"], "from 0 to 65535"),
        (["--listen", "nowhere"], "port must be a number"),
        # A bracketed IPv6 address without its port was told to write the address in brackets.
        (["--listen", "[::1]"], "--listen '[::1]': give the port too, as [::1]:19177"),
        (["--listen", "[::1]:"], "port must be a number"),
        (["--listen", "[zz]"], "'zz' in brackets is not an IPv6 address"),
        (["--listen", "::1"], "write an IPv6 address in brackets"),
        # A 300-letter name once reached the resolver, whose idna codec raised: "internal error", exit 1.
        (["--listen", "a" * 300 + ":1"], "is neither an IP address nor a host name"),
        (["--listen", "http://127.0.0.1:9911"], "a URL is not a listen address; write HOST:PORT, as '127.0.0.1:9911'"),
        (["--listen", "https://[::1]:9911/metrics"], "a URL is not a listen address; write HOST:PORT, as '[::1]:9911'"),
        (["--interval", "0"], "--interval"),
        (["--interval", "soon"], "--interval"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], says: str) -> None:
    proc = run_vmtui("export", "-c", "test:///default", *args)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_port_in_use_is_a_one_line_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_vmtui("export", "-c", "test:///default", "--listen", f"127.0.0.1:{port}")
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_json_start_line_then_ctrl_c_exits_130_and_sigterm_0(sig: signal.Signals, code: int) -> None:
    proc = subprocess.Popen(
        [VMTUI, "export", "-c", "test:///default", "--listen", "127.0.0.1:0", "--json", "--interval", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        start = json.loads(proc.stdout.readline())
        assert start["hosts"] == ["test:///default"]
        assert start["interval"] == 1.0
        assert start["url"] == f"http://{start['listen']}/metrics"
        until(start["url"], "vmtui_host_up", 1.0, host="test:///default")
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == code, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=400) | st.from_regex(r"\A\[?[\w.:-]{0,300}\]?:\d{0,6}\Z"))
def test_any_listen_string_is_an_address_or_a_one_line_usage_error(text: str) -> None:
    refused: UsageError | None = None
    try:
        address = parse_listen(text)
    except UsageError as exc:
        refused = exc
    if refused is not None:
        assert "\n" not in str(refused)
        assert len(str(refused)) < 300
        return
    assert 0 <= address.port <= 65535
    # What it lets through is an IP address or a name of RFC 1123 labels: what the resolver can encode.
    host = address.host.removesuffix(".")
    assert ":" in host or all(0 < len(label) <= 63 and label.isascii() for label in host.split("."))
    host.encode("idna")  # what raised UnicodeError in the resolver, for a 300-letter name


def test_names_the_resolver_cannot_encode_are_a_usage_error() -> None:
    for name in ("a" * 64, "a" * 300, "x\x00y"):
        with pytest.raises(UsageError):
            is_loopback(name)


def test_the_cli_default_is_the_exporter_default() -> None:
    from vmtui.cli.export import export
    from vmtui.export.server import DEFAULT_LISTEN, DEFAULT_PORT

    assert DEFAULT_PORT == 19177
    assert inspect.signature(export).parameters["listen"].default == DEFAULT_LISTEN


def test_only_metrics_and_the_root_answer_every_other_path_is_a_404() -> None:
    import urllib.error

    exporter = Exporter(replay_entries(FIXTURE), interval=0.5, listen=Listen("127.0.0.1", 0))
    base = f"http://{exporter.start()}"
    try:
        for path in ("/metrics", "/", "/metrics?x=1"):
            with urllib.request.urlopen(base + path, timeout=10) as resp:
                assert resp.status == 200
                assert "# TYPE vmtui_host_up gauge" in resp.read().decode()
        for path in ("/nope", "/metric", "/metrics/", "/favicon.ico", "/metrics/x"):
            with pytest.raises(urllib.error.HTTPError) as raised:
                urllib.request.urlopen(base + path, timeout=10)
            assert raised.value.code == 404, path
            assert raised.value.read() == b"404 not found: the metrics are at /metrics\n"
    finally:
        exporter.stop()
