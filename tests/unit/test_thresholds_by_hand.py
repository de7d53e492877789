"""The thresholds (issue 24): levels worked out by hand, the [thresholds] table in config.toml and a host's
colour in hosts.toml, and a bad value refused at start in one line with the file, the line and the key."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from busy_recording import BUSY, IDLE, write_busy_recording
from conftest import VMTUI, run_vmtui
from pty_run import run_in_pty

from vmtui.config import ConfigError, HostStore
from vmtui.metrics import DiskMetrics, DomainMetrics
from vmtui.models import HostEntry
from vmtui.settings.load import load_settings
from vmtui.thresholds import DEFAULT, Level, Limits, domain_figures, parse_thresholds, worst


def test_a_level_starts_at_its_bound() -> None:
    limits = Limits(warn=80.0, critical=95.0)
    assert limits.level(None) is Level.OK
    assert limits.level(0.0) is Level.OK
    assert limits.level(79.9) is Level.OK
    assert limits.level(80.0) is Level.WARN
    assert limits.level(94.99) is Level.WARN
    assert limits.level(95.0) is Level.CRITICAL
    assert limits.level(400.0) is Level.CRITICAL
    assert worst([Level.OK, Level.CRITICAL, Level.WARN]) is Level.CRITICAL
    assert worst([]) is Level.OK


def test_the_defaults_are_the_explainers_levels_and_the_dashboards_cpu_colours() -> None:
    # Written out, not read from vmtui.explain: a change of either must show here.
    expected = {
        "cpu": (75, 90),
        "steal": (5, 20),
        "overhead": (10, 30),
        "exits": (5000, 50000),
        "memory": (50, 500),
        "disk_latency": (20, 100),
        "ksm_cost": (10, 25),
    }
    assert {k: (v.warn, v.critical) for k, v in DEFAULT.limits.items()} == expected


def metrics(**figures: Any) -> DomainMetrics:
    """A 2-vCPU running domain with no figures but `figures`."""
    none = DomainMetrics("u", "g", "running", 1.0, 2, None, None, None, None, None, None, (), None)
    return replace(none, **figures)


def test_a_domains_levels_by_hand() -> None:
    disks = (
        DiskMetrics("vda", None, None, None, None, read_latency_ms=3.0, write_latency_ms=21.5),
        DiskMetrics("vdb", None, None, None, None, read_latency_ms=None, write_latency_ms=None),
    )
    m = metrics(
        cpu_pct=150.0,  # 2 vCPUs: 75 % of what they can use, the warn level exactly
        steal_pct=20.0,  # critical from 20
        overhead_pct=9.9,
        exits_per_s=None,
        major_faults_per_s=49.0,
        disks=disks,  # the slowest: vda's writes at 21.5 ms, warn from 20
    )
    figures = domain_figures(m)
    assert figures == {
        "cpu": 75.0,
        "steal": 20.0,
        "overhead": 9.9,
        "exits": None,
        "memory": 49.0,
        "disk_latency": 21.5,
    }
    assert DEFAULT.alerts(figures) == (("cpu", Level.WARN), ("steal", Level.CRITICAL), ("disk_latency", Level.WARN))


def test_a_table_overrides_one_bound_and_keeps_the_other() -> None:
    t = parse_thresholds({"cpu": {"warn": 50}, "exits": {"warn": 10, "critical": 20.5}})
    assert t.limits["cpu"] == Limits(50.0, 90.0)
    assert t.limits["exits"] == Limits(10.0, 20.5)
    assert t.limits["steal"] == Limits(5.0, 20.0)
    assert t.level("cpu", 60.0) is Level.WARN


BAD = [
    ("[thresholds]\ncpu = { warn = 80, critical = 70 }\n", ":2: thresholds.cpu: warn 80 is above critical 70"),
    ("[thresholds]\nsteal = 5\n", ":2: thresholds.steal: must be a table like { warn = 80, critical = 95 }, not 5"),
    ("[thresholds]\n\n\ncpuu = { warn = 1 }\n", ":4: thresholds.cpuu: unknown figure (known: cpu, steal, overhead, "
     "exits, memory, disk_latency, ksm_cost)"),
    ("[thresholds.exits]\nwarn = 1\ncritical = \"lots\"\n", ":3: thresholds.exits.critical: must be a number, not "
     "'lots'"),
    ("[thresholds]\nmemory = { warn = true }\n", ":2: thresholds.memory.warn: must be a number, not True"),
    ("[thresholds]\nmemory = { warn = -1 }\n", ":2: thresholds.memory.warn: must be 0 or more and finite, not -1"),
    ("[thresholds]\ncpu = { warm = 1 }\n", ":2: thresholds.cpu.warm: unknown key (known: warn, critical)"),
    ("thresholds = 3\n", ":1: 'thresholds' must be a table: [thresholds] then cpu = { warn = 80, critical = 95 }"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "said"),
    BAD,
    ids=["warn-above-critical", "not-a-table", "unknown-figure", "not-a-number", "a-bool", "negative",
         "unknown-bound", "thresholds-not-a-table"],
)  # fmt: skip
def test_a_bad_threshold_is_one_line_with_the_file_the_line_and_the_key(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "config.toml"
    # After another section (its lines counted), as a user's file would have it; a top-level key comes first.
    path.write_text('[aliases]\nprod = "filter host:kvm1"\n\n' + text if text.startswith("[") else text)
    offset = 3 if text.startswith("[") else 0
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value.message)
    line, rest = said[1:].split(":", 1)
    said = f":{int(line) + offset}:{rest}"
    assert message == f"{path}{said}"
    assert "\n" not in message


def test_the_levels_come_from_config_toml_and_writing_a_host_keeps_its_colour(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[thresholds]\ncpu = { warn = 60 }\n")
    assert load_settings(tmp_path / "config.toml").thresholds.limits["cpu"] == Limits(60.0, 90.0)
    assert load_settings(tmp_path / "none.toml").thresholds == DEFAULT
    path = tmp_path / "hosts.toml"
    path.write_text('[hosts.prod]\nuri = "test:///default"\ncolour = "red"\n')
    store = HostStore(path)
    store.add(HostEntry("two", "test:///default?second"))
    assert [(e.name, e.colour) for e in store.load()] == [("prod", "red"), ("two", None)]


def test_thresholds_left_in_hosts_toml_are_refused_with_where_they_go_now(tmp_path: Path) -> None:
    # Where a build of a few hours before read them: named as moved (not "unknown"), nothing written.
    hosts = tmp_path / "config" / "hosts.toml"
    body = '[hosts.prod]\nuri = "test:///default"\n\n[thresholds]\ncpu = { warn = 60 }\n'
    write_file(hosts, body)
    for argv in (["hosts"], ["hosts", "add", "two", "test:///default?second"]):
        proc = run_vmtui(*argv, env_extra={"VMTUI_HOME": str(tmp_path)})
        config = tmp_path / "config" / "config.toml"
        said = f"{hosts}:4: [thresholds] belongs in {config} now (hosts.toml keeps the hosts); move it there"
        assert (proc.returncode, proc.stderr) == (2, f"vmtui: error: {said}\n"), argv
        assert hosts.read_text() == body


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


BAD_THRESHOLD = '# levels\n[thresholds]\ncpu = { warn = 60 }\nsteal = { warn = "high" }\n'
THRESHOLD_SAID = ":4: thresholds.steal.warn: must be a number, not 'high'"
COLOUR_SAID = ":3: hosts.prod.colour: 'reddish' is not a colour (a name like red or bright_blue, or #rrggbb)"
TOP = ["top", "--json", "-n", "1"]
DEFAULT_URI = ["-c", "test:///default"]
STARTS = [
    # -c and --replay name other hosts: the saved ones and the config are checked all the same (never
    # half-configured). A threshold is config.toml's, a colour hosts.toml's.
    pytest.param([*TOP, *DEFAULT_URI], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="top-threshold"),
    pytest.param([*TOP, "--replay"], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="top-replay-threshold"),
    pytest.param([*TOP, *DEFAULT_URI], "reddish", "", COLOUR_SAID, id="top-colour"),
    pytest.param(["export", "--rules"], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="export-rules-threshold"),
    pytest.param(["export", "--rules"], "reddish", "", COLOUR_SAID, id="export-rules-colour"),
    pytest.param([], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="tui-threshold"),
    pytest.param(DEFAULT_URI, "red", BAD_THRESHOLD, THRESHOLD_SAID, id="tui-c-threshold"),
    pytest.param(["--replay"], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="tui-replay-threshold"),
    pytest.param([], "reddish", "", COLOUR_SAID, id="tui-colour"),
]


@pytest.mark.parametrize(("argv", "colour", "body", "said"), STARTS)
def test_vmtui_refuses_to_start_on_a_bad_threshold_or_colour(
    tmp_path: Path, argv: list[str], colour: str, body: str, said: str
) -> None:
    hosts = tmp_path / "config" / "hosts.toml"
    write_file(hosts, f'[hosts.prod]\nuri = "test:///default"\ncolour = "{colour}"\n')
    config = tmp_path / "config" / "config.toml"
    write_file(config, body)
    if argv[-1:] == ["--replay"]:
        argv = [*argv, str(write_busy_recording(tmp_path / "busy.jsonl", [97]))]
    wrong = config if body else hosts
    if argv and not argv[0].startswith("-"):  # a command (no command, only options: the TUI)
        proc = run_vmtui(*argv, env_extra={"VMTUI_HOME": str(tmp_path)})
        code, out = proc.returncode, proc.stdout + proc.stderr
    else:  # the TUI, on a terminal of its own: it must not take the screen
        code, out = run_in_pty([VMTUI, *argv], env={**os.environ, "VMTUI_HOME": str(tmp_path)}, timeout=30)
    assert code == 2, out
    assert f"{wrong}{said}" in out
    assert len(out.strip().splitlines()) == 1, out
    assert "Traceback" not in out


def test_top_json_gives_each_row_its_levels(tmp_path: Path) -> None:
    recording = write_busy_recording(tmp_path / "busy.jsonl", [97, 20, 97])
    levels = "[thresholds]\ncpu = { warn = 15, critical = 50 }\noverhead = { warn = 0.5, critical = 4 }\n"
    write_file(tmp_path / "config" / "config.toml", levels)
    proc = run_vmtui("top", "--json", "--replay", str(recording), env_extra={"VMTUI_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    rows = [(d["name"], d["levels"], d["level"]) for line in lines for d in line["domains"]]
    quiet = {"steal": "ok", "exits": "ok", "memory": "ok", "disk_latency": "ok"}
    # By hand: 97 % of one vCPU is critical (50), its overhead 5 % of 97 = 4.85 % of a core critical (4);
    # 20 % is warn (15), its overhead 1 % warn (0.5); the idle guest is at 0 everywhere.
    busy = {**quiet, "cpu": "critical", "overhead": "critical"}
    calmer = {**quiet, "cpu": "warn", "overhead": "warn"}
    idle = {**quiet, "cpu": "ok", "overhead": "ok"}
    assert [r for r in rows if r[0] == BUSY][-2:] == [(BUSY, calmer, "warn"), (BUSY, busy, "critical")]
    assert {(r[1]["cpu"], r[2]) for r in rows if r[0] == IDLE} == {("ok", "ok")}
    assert all(r[1] == idle for r in rows if r[0] == IDLE)


@pytest.mark.parametrize(("cpu", "style"), [(3.0, "bold"), (10.0, "yellow"), (24.9, "yellow"), (25.0, "bold red")])
def test_the_memory_screens_ksm_cost_has_its_levels(cpu: float, style: str) -> None:
    from collections import deque

    from vmtui.ops.ksm import KsmStatus
    from vmtui.screens.memory import KsmPoint, ksm_text

    status = KsmStatus("h", 0.0, 1, {}, 4, None, cpu, None, 0.0)
    text = ksm_text(deque([KsmPoint(status, cpu)]))  # the defaults: warn from 10, critical from 25
    cost = f"{cpu:.1f} %"
    spans = [str(s.style) for s in text.spans if text.plain[s.start : s.end] == cost]
    assert spans == [style], (text.plain, text.spans)
