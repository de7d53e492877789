"""The CLI on real guests of the local libvirtd (KVM when usable, else TCG), as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import LOCAL_URI, MARKUP_NAME, Guests, run_vmtui


def _listed(guests: Guests) -> dict[str, dict[str, object]]:
    proc = run_vmtui("list", "-c", LOCAL_URI, "--json", check=True)
    return {d["name"]: d for d in json.loads(proc.stdout)["domains"] if str(d["name"]).startswith(guests.prefix)}


def test_list_shows_guests_with_the_right_accelerator(guests: Guests) -> None:
    listed = _listed(guests)
    want = "kvm" if guests.kvm else "tcg"
    assert listed[guests.by_role["virtio"].name]["accelerator"] == want
    assert listed[guests.by_role["e1000"].name]["accelerator"] == want
    assert listed[guests.by_role["tcg"].name]["accelerator"] == "tcg"
    for d in listed.values():
        assert d["state"] == "running"
        assert d["uuid"]
        assert d["id"] is not None


def test_names_with_xml_metacharacters_round_trip(guests: Guests) -> None:
    name = guests.by_role["quotes"].name
    assert name.endswith("q'\"<&>")
    listed = _listed(guests)
    assert name in listed
    proc = run_vmtui("stats", name, "-c", LOCAL_URI, "--json", "--interval", "0.3", check=True)
    assert json.loads(proc.stdout)["domain"]["name"] == name


def test_explain_flags_the_e1000_guest_and_not_the_virtio_one(guests: Guests) -> None:
    proc = run_vmtui("explain", guests.by_role["e1000"].name, "-c", LOCAL_URI, "--json", "--interval", "0.5")
    findings = json.loads(proc.stdout)["findings"]
    nic = [f for f in findings if f["key"].startswith("nic-emulated:")]
    assert nic, findings
    assert "e1000" in nic[0]["title"]
    assert "virtio" in nic[0]["fix"]
    proc = run_vmtui("explain", guests.by_role["virtio"].name, "-c", LOCAL_URI, "--json", "--interval", "0.5")
    assert not [f for f in json.loads(proc.stdout)["findings"] if f["key"].startswith("nic-emulated:")]


def test_explain_flags_tcg_when_kvm_is_usable(guests: Guests) -> None:
    proc = run_vmtui("explain", guests.by_role["tcg"].name, "-c", LOCAL_URI, "--json", "--interval", "0.5")
    keys = [f["key"] for f in json.loads(proc.stdout)["findings"]]
    assert "accelerator-tcg" in keys


def test_stats_cpu_within_bounds_and_kvm_counters(guests: Guests) -> None:
    for role in ("virtio", "tcg"):
        info = guests.by_role[role]
        proc = run_vmtui("stats", info.uuid, "-c", LOCAL_URI, "--json", "--interval", "1", check=True)
        m = json.loads(proc.stdout)["metrics"]
        assert 0 <= m["cpu_pct"] <= 100 * m["vcpu_count"]
        assert 0 <= m["cpu_guest_pct"] <= 100
        assert m["overhead_pct"] >= 0
        assert m["balloon_max_kib"] == 128 * 1024
        assert len(m["vcpus"]) == 1
        if role == "virtio" and guests.kvm:
            assert m["exits_per_s"] > 0
            assert "halt" in m["exits_by_reason"] or "io" in m["exits_by_reason"]
        if role == "tcg":
            assert m["exits_per_s"] is None  # no KVM, so no KVM exit counters


def test_domain_by_id_uuid_and_name(guests: Guests) -> None:
    info = guests.by_role["virtio"]
    listed = _listed(guests)[info.name]
    for ident in (info.name, info.uuid, str(listed["id"])):
        proc = run_vmtui("stats", ident, "-c", LOCAL_URI, "--json", "--interval", "0.2", check=True)
        assert json.loads(proc.stdout)["domain"]["uuid"] == info.uuid


def test_pause_and_resume(guests: Guests) -> None:
    name = guests.by_role["e1000"].name
    try:
        proc = run_vmtui("suspend", name, "-c", LOCAL_URI, "--json", check=True)
        assert json.loads(proc.stdout)["domain"]["state"] == "paused"
        assert _listed(guests)[name]["state"] == "paused"
    finally:
        proc = run_vmtui("resume", name, "-c", LOCAL_URI, "--json")
    assert json.loads(proc.stdout)["domain"]["state"] == "running"


def test_read_only_connection_refuses_before_any_change(guests: Guests) -> None:
    name = guests.by_role["virtio"].name
    proc = run_vmtui("destroy", name, "-c", LOCAL_URI, "--read-only")
    assert proc.returncode == 5
    assert "read-only" in proc.stderr
    assert _listed(guests)[name]["state"] == "running"


def _state(name: str) -> str:
    """What virsh says, independently of vmtui."""
    out = subprocess.run(["virsh", "-c", LOCAL_URI, "domstate", name], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(
    "argv",
    [
        ["--read-only", "-c", LOCAL_URI, "suspend", "{name}"],
        ["-r", "suspend", "{name}", "-c", LOCAL_URI],
        ["--read-only", "destroy", "{name}", "-c", LOCAL_URI, "--yes"],
        ["-c", LOCAL_URI, "destroy", "--read-only", "{name}", "--yes"],
    ],
)
def test_read_only_before_or_after_the_command_leaves_the_guest_running(guests: Guests, argv: list[str]) -> None:
    name = guests.by_role["virtio"].name
    proc = run_vmtui(*[a.format(name=name) for a in argv])
    assert proc.returncode == 5
    assert "is read-only" in proc.stderr
    assert _state(name) == "running"


def test_destroy_asks_first_and_a_script_must_say_yes(guests: Guests) -> None:
    name = guests.by_role["tcg"].name
    proc = run_vmtui("destroy", name, "-c", LOCAL_URI)  # stdin is not a terminal here
    assert proc.returncode == 2
    assert (
        proc.stderr
        == f"vmtui: error: Force off {name} on {LOCAL_URI}? Not asked without a terminal. (add --yes to proceed)\n"
    )
    assert _state(name) == "running"


def test_markup_in_a_name_is_shown_as_typed(guests: Guests) -> None:
    name = guests.by_role["markup"].name
    assert name.endswith(MARKUP_NAME)
    listing = run_vmtui("list", "-c", LOCAL_URI, env_extra={"COLUMNS": "250"}, check=True).stdout
    assert name in listing
    top = run_vmtui("top", "-c", LOCAL_URI, "-n", "1", "-i", "0.3", env_extra={"COLUMNS": "250"}, check=True).stdout
    assert name in top
    stats = run_vmtui("stats", name, "-c", LOCAL_URI, "-i", "0.3", check=True).stdout
    assert f"{name} (" in stats
    proc = run_vmtui("destroy", name, "-c", LOCAL_URI)
    assert f"Force off {name} on" in proc.stderr


def test_top_json_has_rates_for_every_guest(guests: Guests) -> None:
    proc = run_vmtui("top", "-c", LOCAL_URI, "--json", "--count", "1", "--interval", "0.5", check=True)
    (line,) = proc.stdout.strip().splitlines()
    sample = json.loads(line)
    ours = [d for d in sample["domains"] if d["name"].startswith(guests.prefix)]
    assert len(ours) == len(guests.by_role)
    assert all(d["cpu_pct"] is not None for d in ours)
    assert sample["host_metrics"]["memory_total_kib"] > 0


def test_human_output_of_top_list_and_explain(guests: Guests) -> None:
    name = guests.by_role["e1000"].name
    top = run_vmtui("top", "-c", LOCAL_URI, "--count", "1", "--interval", "0.5", check=True).stdout
    assert "CPU%" in top
    assert "OVHD%" in top
    assert name in top
    listing = run_vmtui("list", "-c", LOCAL_URI, check=True).stdout
    assert "ACCEL" in listing
    assert name in listing
    explained = run_vmtui("explain", name, "-c", LOCAL_URI, "--interval", "0.3", check=True).stdout
    assert "emulated" in explained
    assert "fix:" in explained


def test_list_and_top_filter_and_sort_like_the_tui(guests: Guests) -> None:
    e1000 = guests.by_role["e1000"].name
    proc = run_vmtui("list", "-c", LOCAL_URI, "--json", "--filter", f"^{guests.prefix}.*E1000$", check=True)
    assert [d["name"] for d in json.loads(proc.stdout)["domains"]] == [e1000]  # regex, case-insensitive
    proc = run_vmtui("list", "-c", LOCAL_URI, "--json", "-f", f"state:shut {guests.prefix}", check=True)
    assert json.loads(proc.stdout)["domains"] == []  # all of ours run
    proc = run_vmtui("list", "-c", LOCAL_URI, "--json", "-f", f"host:{LOCAL_URI} state:run {guests.prefix}")
    assert len(json.loads(proc.stdout)["domains"]) == len(guests.by_role)

    proc = run_vmtui(
        "top", "-c", LOCAL_URI, "--json", "-n", "1", "-i", "0.5", "--sort", "cpu", "-f", guests.prefix, check=True
    )
    domains = json.loads(proc.stdout)["domains"]
    assert {d["name"] for d in domains} == {g.name for g in guests.by_role.values()}
    cpu = [d["cpu_pct"] for d in domains]
    assert cpu == sorted(cpu, reverse=True)  # busiest first


def test_bad_filter_is_refused_before_connecting() -> None:
    # The host does not exist: exit 2 (usage), not 4 (unreachable), shows nothing was tried.
    proc = run_vmtui("list", "-c", "qemu+ssh://nobody@host.invalid/system", "--filter", "web(", "--json")
    assert proc.returncode == 2
    assert "not a valid regex" in json.loads(proc.stdout)["error"]["message"]
    assert "Traceback" not in proc.stderr


def _virsh_domstats(name: str) -> tuple[float, dict[str, float]]:
    """`virsh domstats --cpu-total --vcpu` of one guest, with the time it was taken."""
    import time

    out = subprocess.run(
        ["virsh", "-c", LOCAL_URI, "domstats", "--cpu-total", "--vcpu", "--balloon", name],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    taken = time.monotonic()
    values: dict[str, float] = {}
    for line in out.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            try:
                values[key] = float(value)
            except ValueError:
                pass
    return taken, values


def test_stats_agrees_with_virsh_domstats_taken_around_it(guests: Guests) -> None:
    """vmtui's CPU figures over 2 s sit within what virsh's counters say for the window around them."""
    name = guests.by_role["tcg"].name
    t0, before = _virsh_domstats(name)
    proc = run_vmtui("stats", name, "-c", LOCAL_URI, "--json", "--interval", "2", check=True)
    t1, after = _virsh_domstats(name)
    m = json.loads(proc.stdout)["metrics"]
    window = t1 - t0  # >= vmtui's own 2 s interval
    outer_cpu = (after["cpu.time"] - before["cpu.time"]) / 1e9
    # vmtui's 2 s lie inside virsh's window: its CPU seconds cannot exceed the window's...
    assert m["cpu_pct"] / 100 * m["elapsed_s"] <= outer_cpu + 0.02
    # ...and an idle guest burns CPU at a steady rate, so the two averages agree closely.
    assert m["cpu_pct"] == pytest.approx(outer_cpu / window * 100, abs=max(1.0, 0.3 * m["cpu_pct"]))
    assert m["vcpu_count"] == after["vcpu.current"]
    assert m["balloon_max_kib"] == after["balloon.maximum"]
    assert 2.0 <= m["elapsed_s"] <= window


def test_a_start_libvirt_refuses_is_exit_1_with_libvirts_words(guests: Guests, tmp_path: Path) -> None:
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

    name = f"{guests.prefix}-nodisk"
    xml = tmp_path / "dom.xml"
    xml.write_text(build_guest_xml(GuestSpec(name, domain_type="qemu", disk=tmp_path / "missing.qcow2", role="test")))
    subprocess.run(["virsh", "-c", LOCAL_URI, "define", str(xml)], check=True, capture_output=True)
    try:
        proc = run_vmtui("start", name, "-c", LOCAL_URI)
        assert proc.returncode == 1
        assert proc.stderr.startswith(f"vmtui: error: start '{name}' on {LOCAL_URI}: ")
        assert "missing.qcow2" in proc.stderr  # libvirt's own message names the file it could not open
        assert proc.stderr.count("\n") == 1
    finally:
        subprocess.run(["virsh", "-c", LOCAL_URI, "undefine", name], check=False, capture_output=True)
