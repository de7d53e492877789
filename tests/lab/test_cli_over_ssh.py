"""The CLI across several real hosts reached over qemu+ssh (the lab), as a fleet operator uses it."""

from __future__ import annotations

import json
import secrets

import pytest
from fixtures_lab import LabHandle

from vmtui.drivers import connect
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

pytestmark = pytest.mark.lab


def test_list_spans_every_saved_host(lab: LabHandle) -> None:
    proc = lab.vmtui("list", "--json")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["errors"] == []
    by_host: dict[str, set[str]] = {}
    for d in body["domains"]:
        by_host.setdefault(d["host"], set()).add(d["name"])
    for name in lab.names:
        assert f"{name}-tcg-e1000" in by_host[name]


def test_explain_over_ssh_names_tcg_and_the_emulated_nic(lab: LabHandle) -> None:
    proc = lab.vmtui("explain", "lab1-tcg-e1000", "--json", "--interval", "0.5")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["host"] == "lab1"  # found by asking every saved host
    findings = {f["key"]: f for f in body["findings"]}
    assert any(k.startswith("nic-emulated:") for k in findings)
    tcg = findings["accelerator-tcg"]
    assert tcg["severity"] == "low"  # an idle BIOS guest: emulation costs little now
    # The host's KVM module is read over the host's own SSH: where it is nested PVM, KVM is not advised.
    hosts = json.loads(lab.vmtui("hosts", "--json").stdout)
    module = next(h["info"]["kvm_module"] for h in hosts if h["name"] == "lab1")
    assert ("type='kvm'" not in tcg["fix"].split(";")[0]) == (module == "kvm_pvm")


def test_hosts_over_ssh_show_kernel_and_ept_of_the_remote_host(lab: LabHandle) -> None:
    """Read from the host's own /proc and /sys over its qemu+ssh URI (lab hosts share this kernel)."""
    import os

    hosts = json.loads(lab.vmtui("hosts", "--json").stdout)
    for h in hosts:
        assert h["info"]["kernel"] == os.uname().release
        ept = "/sys/module/kvm_intel/parameters/ept"
        if os.path.exists(ept):
            assert h["info"]["tdp"] is (open(ept).read().strip() in ("Y", "1"))
        elif os.path.exists("/sys/module/kvm_pvm"):
            assert h["info"]["tdp"] is False
            assert h["info"]["tdp_detail"] == "no EPT/NPT: kvm_pvm (software shadow paging)"


def test_stats_over_ssh_has_kvm_exit_counters(lab: LabHandle) -> None:
    proc = lab.vmtui("stats", "lab2-kvm-virtio", "--json", "--interval", "0.5")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)["metrics"]
    assert m["exits_per_s"] is not None, "lab2's KVM guest has no KVM exit counters: is KVM usable?"
    assert m["exits_per_s"] > 0
    assert 0 <= m["cpu_pct"] <= 100


def test_unknown_domain_on_a_fleet_names_every_host(lab: LabHandle) -> None:
    proc = lab.vmtui("stats", "nope", "--json")
    assert proc.returncode == 3
    message = json.loads(proc.stdout)["error"]["message"]
    assert all(name in message for name in lab.names)


def test_a_name_on_two_hosts_is_refused_until_one_is_picked(lab: LabHandle) -> None:
    """RELIABILITY #28: an action never guesses which of two same-named domains is meant."""
    name = f"vmtui-test-twin-{secrets.token_hex(3)}"
    spec = GuestSpec(name, memory_mib=64, domain_type="qemu", nic_model=None, role="test")
    conns = [connect(lab.uris[host]) for host in ("lab1", "lab2")]
    try:
        for conn in conns:
            conn.define_xml(build_guest_xml(spec))
        proc = lab.vmtui("start", name, "--json")
        assert proc.returncode == 2
        error = json.loads(proc.stdout)["error"]
        assert error["message"] == f"domain {name!r} exists on lab1, lab2"
        assert [c.domain(name).state for c in conns] == ["shut-off", "shut-off"]  # nothing was started
        picked = lab.vmtui("start", name, "-H", "lab2", "--json")
        assert picked.returncode == 0, picked.stderr
        assert [c.domain(name).state for c in conns] == ["shut-off", "running"]
    finally:
        for conn in conns:
            conn.destroy_and_undefine(name)
            conn.close()


def test_top_json_streams_every_host(lab: LabHandle) -> None:
    proc = lab.vmtui("top", "--json", "--count", "1", "--interval", "0.5")
    assert proc.returncode == 0, proc.stderr
    hosts = {json.loads(line)["host"] for line in proc.stdout.strip().splitlines()}
    assert hosts == set(lab.names)
