"""`vmtui lab tour`: each claim of the chapter gets a number from the lab's real guests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_lab import LabHandle

pytestmark = [pytest.mark.lab, pytest.mark.timeout(400)]
KSM = Path("/sys/kernel/mm/ksm")


def _ksm() -> dict[str, str]:
    return {k: (KSM / k).read_text().strip() for k in ("run", "pages_to_scan", "sleep_millisecs")}


def test_the_tour_measures_every_claim_and_restores_ksm(lab: LabHandle) -> None:
    before = _ksm()
    proc = lab.vmtui("lab", "tour", "--json", timeout=360)
    assert proc.returncode == 0, proc.stderr
    assert _ksm() == before  # every KSM setting the tour touched is back
    rows = {r["topic"]: r for r in json.loads(proc.stdout)["rows"]}
    assert set(rows) == {"cpu", "memory", "io", "ksm", "balloon", "migration"}
    # Progress: one line per step on stderr.
    assert "cpu: booting" in proc.stderr
    assert "balloon: 256 -> 160 MiB" in proc.stderr

    cpu = rows["cpu"]["measured"]
    assert cpu["kvm_exits_per_s"] > 1000  # the port-IO loop leaves the guest over and over
    assert cpu["tcg_cpu_pct"] > 20  # and spins flat out under TCG
    pvm = Path("/sys/module/kvm_pvm").exists()
    if pvm:  # real mode runs in KVM's emulator here: emulated instructions, no IO exits
        assert cpu["kvm_emulated_insn_per_s"] > 1000
        assert rows["cpu"]["needs"] is not None
        assert rows["memory"]["measured"]["ept_npt"] is False

    io = rows["io"]["measured"]
    assert io["e1000_packets_per_s"] > 100
    assert io["virtio_packets_per_s"] > 100

    assert rows["ksm"]["measured"]["merged_pages"] > 1000  # identical 256 MiB guests share pages
    balloon = rows["balloon"]["measured"]
    assert balloon["before_mib"] == 256
    assert balloon["after_mib"] == pytest.approx(160, abs=2)

    # An idle guest pauses briefly: the last dirty pages of a 192 MiB guest over a local link.
    migration = rows["migration"]["measured"]
    assert 0 < migration["downtime_ms"] < 2000
    assert migration["sent_mib"] > 1
    assert "migration: an idle 192 MiB guest" in proc.stderr
    history = json.loads(lab.vmtui("migrate", "history", "--json").stdout)
    assert any(
        h["outcome"] == "completed" and h["downtime_ms"] == migration["downtime_ms"] for h in history["migrations"]
    )

    # Nothing of the tour is left on either host.
    for host in ("lab1", "lab2"):
        listed = json.loads(lab.vmtui("list", "-H", host, "--json").stdout)["domains"]
        assert not [d["name"] for d in listed if d["name"].startswith("tour-")], host
