"""`vmtui export --rules` (issue 24): the generated alerting rules pass `promtool check rules`, and
`promtool test rules` fires exactly the alerts worked out by hand over series from the exporter's page.

The series are those the exporter serves for the recorded lab (tests/fixtures_export.py: two real lab
hosts through the exporter's own families and text rendering): every series a rule reads, with its real
labels and its real value as the start. Prometheus then sees them grow by what the test chooses per
15 s scrape, so the rates are known by hand.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import run_vmtui
from fixtures_export import DISK, KVM, LAB1_WALL, exposition, views
from prometheus_client.parser import text_string_to_metric_families

from vmtui.export.families import CounterGuard, scrape

READ = (
    "vmtui_domain_vcpus",
    "vmtui_domain_cpu_seconds_total",
    "vmtui_domain_vcpu_steal_seconds_total",
    "vmtui_domain_overhead_seconds_total",
    "vmtui_domain_exits_total",
    "vmtui_domain_guest_major_page_faults_total",
    "vmtui_domain_disk_read_time_seconds_total",
    "vmtui_domain_disk_read_requests_total",
    "vmtui_domain_disk_write_time_seconds_total",
    "vmtui_domain_disk_write_requests_total",
)
"""The series the rules read (named here, not taken from vmtui.export.rules)."""
STEP = 15.0
ALERTS = [
    f"VmtuiDomain{measure}{level}"
    for measure in ("Cpu", "Steal", "Overhead", "Exits", "Memory", "DiskLatency")
    for level in ("Warning", "Critical")
]


def scraped() -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every series the rules read, as the exporter's page has them."""
    page = exposition(scrape(views(), now=LAB1_WALL + 2.0, guard=CounterGuard()))
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(page)
        for s in family.samples
        if s.name in READ
    ]


def growth(name: str, labels: dict[str, str]) -> float:
    """What the series grows by per scrape: chosen for two guests (exits are KVM's: the KVM guest), nothing
    for the rest."""
    of = (labels["host"], labels["domain"])
    if name == "vmtui_domain_cpu_seconds_total" and of == (KVM["host"], KVM["domain"]):
        return 0.97 * STEP  # 1 vCPU: 97 % of it, critical (from 90)
    if name == "vmtui_domain_vcpu_steal_seconds_total" and of == (DISK["host"], DISK["domain"]):
        return {"0": 0.10, "1": 0.20}[labels["vcpu"]] * STEP  # mean 15 %: warning (5 to 20)
    if name == "vmtui_domain_exits_total" and of == (KVM["host"], KVM["domain"]) and labels["reason"] == "other":
        return 3000.0 * STEP  # 3000/s: a warning with config.toml's 1000 (the default's 5000 would not)
    return 0.0


def selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def expected(alert: str) -> list[dict[str, object]]:
    """The alerts firing at 3 minutes, by hand: one per figure that grows; none for the others."""
    fired: dict[str, tuple[dict[str, str], str, str, str]] = {
        "VmtuiDomainCpuCritical": (KVM, "cpu", "CPU 97.0 % of its vCPUs", "warn from 75, critical from 90"),
        "VmtuiDomainStealWarning": (DISK, "steal", "steal 15.0 %", "warn from 5, critical from 20"),
        "VmtuiDomainExitsWarning": (KVM, "exits", "VM exits 3000.0/s", "warn from 1000, critical from 8000"),
    }
    if alert not in fired:
        return []
    guest, measure, figure, levels = fired[alert]
    return [
        {
            "exp_labels": {
                **guest,
                "severity": "critical" if alert.endswith("Critical") else "warning",
                "measure": measure,
            },
            "exp_annotations": {
                "summary": f"{guest['domain']} on {guest['host']}: {figure}",
                "description": f"vmtui thresholds: {levels}",
            },
        }
    ]


def test_generated_rules_pass_promtool_and_fire_what_was_worked_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("[thresholds]\nexits = { warn = 1000, critical = 8000 }\n")
    proc = run_vmtui("export", "--rules", env_extra={"VMTUI_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    rules = tmp_path / "vmtui-rules.yml"
    rules.write_text(proc.stdout)
    check = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 12 rules found" in check.stdout

    series = scraped()
    assert {n for n, _l, _v in series} >= set(READ) - {"vmtui_domain_guest_major_page_faults_total"}
    steps = 20  # five minutes of 15 s scrapes
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    {"series": selector(n, labels), "values": f"{v!r}+{growth(n, labels)!r}x{steps}"}
                    for n, labels, v in series
                ],
                # 3 minutes in: every rate has a full minute, every level held its minute (`for: 1m`).
                "alert_rule_test": [{"eval_time": "3m", "alertname": a, "exp_alerts": expected(a)} for a in ALERTS],
            }
        ],
    }
    spec = tmp_path / "vmtui-rules-test.yml"
    spec.write_text(json.dumps(test, indent=1))  # JSON is YAML
    ran = subprocess.run(["promtool", "test", "rules", str(spec)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "SUCCESS" in ran.stdout
