"""The explainer on metrics recorded from real guests plus the facts of their XML."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.metric_samples import sample_metrics
from vmtui.drivers.replay import Recording
from vmtui.explain import Severity, explain
from vmtui.metrics import DomainMetrics
from vmtui.models import Device, DeviceClass

FIXTURE = Path(__file__).parent.parent / "fixtures" / "qemu-kvm-tcg-3guests.jsonl"


def _setup() -> tuple[Recording, str, dict[str, DomainMetrics]]:
    rec = Recording(FIXTURE)
    (host,) = rec.hosts
    s0, s1 = rec.samples[host][:2]
    return rec, host, sample_metrics(s0, s1, host_cpus=rec.hosts[host].cpus)


def test_emulated_nic_is_flagged_with_the_virtio_fix() -> None:
    rec, host, metrics = _setup()
    info = next(d for d in rec.domains[host] if d.name == "rec-kvm-e1000")
    findings = explain(info, metrics[info.uuid], rec.hosts[host])
    nic = next(f for f in findings if f.key.startswith("nic-emulated:"))
    assert "e1000" in nic.title
    assert "virtio" in nic.fix
    assert any("IO exits" in e for e in nic.evidence)


def test_virtio_kvm_guest_has_no_device_findings() -> None:
    rec, host, metrics = _setup()
    info = next(d for d in rec.domains[host] if d.name == "rec-kvm-virtio")
    keys = [f.key for f in explain(info, metrics[info.uuid], rec.hosts[host])]
    assert not any(k.startswith(("nic-emulated", "disk-emulated", "accelerator")) for k in keys)


def test_tcg_with_kvm_available_ranks_first_and_its_severity_follows_the_cost() -> None:
    rec, host, metrics = _setup()
    info = next(d for d in rec.domains[host] if d.name == "rec-tcg-virtio")
    info = replace(info, devices=(*info.devices, Device("nic", "net1", "rtl8139", DeviceClass.EMULATED)))
    busy = replace(metrics[info.uuid], cpu_pct=60.0)
    kvm_host = replace(rec.hosts[host], kvm_usable=True, kvm_module="kvm_intel")
    findings = explain(info, busy, kvm_host)
    assert findings[0].key == "accelerator-tcg"
    assert findings[0].severity is Severity.HIGH
    assert "type='kvm'" in findings[0].fix

    def severity(cpu: float) -> Severity:
        m = replace(metrics[info.uuid], cpu_pct=cpu)
        return next(f for f in explain(info, m, kvm_host) if f.key == "accelerator-tcg").severity

    # Thresholds at 10 % and 50 % of a core, both sides of each.
    assert [severity(c) for c in (1.5, 9.9, 10.0, 49.9, 50.0)] == [
        Severity.LOW, Severity.LOW, Severity.MEDIUM, Severity.MEDIUM, Severity.HIGH
    ]  # fmt: skip
    no_kvm = explain(info, None, replace(rec.hosts[host], kvm_usable=False))
    assert next(f for f in no_kvm if f.key == "accelerator-tcg").severity is Severity.MEDIUM


def test_no_kvm_advice_where_the_hosts_kvm_cannot_run_the_guest() -> None:
    """Nested kvm_pvm (this machine) hangs stock Linux: TCG is what works, so type='kvm' is not offered."""
    rec, host, metrics = _setup()
    info = next(d for d in rec.domains[host] if d.name == "rec-tcg-virtio")
    pvm = replace(rec.hosts[host], kvm_usable=True, kvm_module="kvm_pvm")
    (tcg,) = [f for f in explain(info, metrics[info.uuid], pvm) if f.key == "accelerator-tcg"]
    assert tcg.fix.startswith("nothing to change on this host")
    assert "kvm_pvm" in tcg.title


def test_memory_findings_without_metrics() -> None:
    rec, host, _ = _setup()
    info = rec.domains[host][0]
    keys = {f.key for f in explain(replace(info, balloon_model="none"), None, None)}
    assert "balloon-missing" in keys
    keys = {f.key for f in explain(replace(info, balloon_period=None), None, None)}
    assert "balloon-no-stats" in keys
