"""The thresholds (issue 24): levels worked out by hand, the [thresholds] table and a host's colour in
hosts.toml, and a bad value refused at start in one line with the file, the line and the key."""

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
    ("thresholds = 3\n", ": 'thresholds' must be a table: [thresholds] then cpu = { warn = 80, critical = 95 }"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "said"),
    BAD,
    ids=["warn-above-critical", "not-a-table", "unknown-figure", "not-a-number", "a-bool", "negative",
         "unknown-bound", "thresholds-not-a-table"],
)  # fmt: skip
def test_a_bad_threshold_is_one_line_with_the_file_the_line_and_the_key(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text('[hosts.a]\nuri = "test:///default"\n\n' + text if text.startswith("[") else text)
    offset = 3 if text.startswith("[") else 0
    with pytest.raises(ConfigError) as caught:
        HostStore(path).settings()
    message = str(caught.value.message)
    if said.startswith(":") and said[1].isdigit():
        line, rest = said[1:].split(":", 1)
        said = f":{int(line) + offset}:{rest}"
    assert message == f"{path}{said}"
    assert "\n" not in message


def test_writing_a_host_keeps_the_thresholds_and_the_colours(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text('[hosts.prod]\nuri = "test:///default"\ncolour = "red"\n\n[thresholds]\ncpu = { warn = 60 }\n')
    store = HostStore(path)
    store.add(HostEntry("two", "test:///default?second"))
    settings = store.settings()
    assert [(e.name, e.colour) for e in settings.hosts] == [("prod", "red"), ("two", None)]
    assert settings.thresholds.limits["cpu"] == Limits(60.0, 90.0)


def write_hosts(home: Path, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "hosts.toml").write_text(text)


BAD_THRESHOLD = "[thresholds]\noverhead = { critical = 2, warn = 3 }\n"
THRESHOLD_SAID = ":6: thresholds.overhead: warn 3 is above critical 2"
COLOUR_SAID = ":3: hosts.prod.colour: 'reddish' is not a colour (a name like red or bright_blue, or #rrggbb)"
TOP = ["top", "--json", "-n", "1", "-c", "test:///default"]
STARTS = [
    # -c names another host: the saved ones are checked all the same (never half-configured).
    pytest.param(TOP, "red", BAD_THRESHOLD, THRESHOLD_SAID, id="top-threshold"),
    pytest.param(TOP, "reddish", "", COLOUR_SAID, id="top-colour"),
    pytest.param(["export", "--rules"], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="export-rules-threshold"),
    pytest.param(["export", "--rules"], "reddish", "", COLOUR_SAID, id="export-rules-colour"),
    pytest.param([], "red", BAD_THRESHOLD, THRESHOLD_SAID, id="tui-threshold"),
    pytest.param([], "reddish", "", COLOUR_SAID, id="tui-colour"),
]


@pytest.mark.parametrize(("argv", "colour", "body", "said"), STARTS)
def test_vmtui_refuses_to_start_on_a_bad_threshold_or_colour(
    tmp_path: Path, argv: list[str], colour: str, body: str, said: str
) -> None:
    write_hosts(tmp_path, f'[hosts.prod]\nuri = "test:///default"\ncolour = "{colour}"\n\n{body}')
    hosts = tmp_path / "config" / "hosts.toml"
    if argv:
        proc = run_vmtui(*argv, env_extra={"VMTUI_HOME": str(tmp_path)})
        code, out = proc.returncode, proc.stdout + proc.stderr
    else:  # the TUI, on a terminal of its own: it must not take the screen
        code, out = run_in_pty([VMTUI], env={**os.environ, "VMTUI_HOME": str(tmp_path)}, timeout=30)
    assert code == 2, out
    assert f"{hosts}{said}" in out
    assert len(out.strip().splitlines()) == 1, out
    assert "Traceback" not in out


def test_top_json_gives_each_row_its_levels(tmp_path: Path) -> None:
    recording = write_busy_recording(tmp_path / "busy.jsonl", [97, 20, 97])
    write_hosts(tmp_path, "[thresholds]\ncpu = { warn = 15, critical = 50 }\noverhead = { warn = 0.5, critical = 4 }\n")
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
