"""SR-IOV discovery, VF counts and pools on libvirt's test driver (a PF and its VFs in node XML) and a sysfs tree.

Expected values come from the node XML in `sriov_host` (written by hand), not from the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sriov_host import GUEST, GUEST_MAC, PF, PLAIN, VF0, VF1, KernelLikeFiles, SriovHost, make_sriov_host

from vmtui.drivers import connect
from vmtui.drivers.libvirt.driver import Connection
from vmtui.errors import DeniedError, NotFoundError, OperationError, UsageError
from vmtui.ops import devices, sriov


@pytest.fixture
def host(tmp_path: Path) -> SriovHost:
    return make_sriov_host(tmp_path)


@pytest.fixture
def conn(host: SriovHost) -> Iterator[Connection]:
    # One connection per test: the test driver keeps a file-backed host's state per connection.
    with connect(host.uri) as c:
        yield c


def test_inventory_shows_the_pf_its_vfs_and_who_holds_them(conn: Connection) -> None:
    report = sriov.inventory(conn)
    (pf,) = report.pfs
    assert (str(pf.address), pf.netdev, pf.mac, pf.total_vfs, pf.current_vfs) == (
        PF, "eth3", "00:1b:21:00:00:01", 7, 2
    )  # fmt: skip
    vf0, vf1 = pf.vfs
    assert (str(vf0.address), vf0.netdev, vf0.mac, vf0.used_by) == (VF0, "eth4", "02:00:00:00:00:10", ())
    assert (str(vf1.address), vf1.netdev, vf1.mac, vf1.vlan) == (VF1, None, GUEST_MAC, 42)
    (use,) = vf1.used_by
    assert (use.domain, use.state, use.live, use.config, use.via) == (GUEST, "running", True, True, "interface")
    body = report.to_json()
    assert body["pfs"][0]["vfs"][1]["used_by"][0]["domain"] == GUEST
    assert body["pfs"][0]["nodedev"] == "pci_0000_03_00_0"


def test_pf_is_found_by_netdev_address_or_nodedev_and_a_vf_is_not_a_pf(conn: Connection) -> None:
    report = sriov.inventory(conn)
    for name in ("eth3", PF, "03:00.0", "pci_0000_03_00_0"):
        assert str(sriov.find_pf(report, name).address) == PF
    with pytest.raises(UsageError, match="virtual function"):
        sriov.find_pf(report, VF0)
    with pytest.raises(NotFoundError, match="eth3"):
        sriov.find_pf(report, "eth9")


def test_vf_count_is_refused_while_a_running_guest_holds_a_vf(conn: Connection, host: SriovHost) -> None:
    files = KernelLikeFiles(host.sysfs)
    with pytest.raises(OperationError, match=f"held by running domain {GUEST}"):
        sriov.set_vf_count(conn, "eth3", 4, files=files)
    with pytest.raises(OperationError, match=GUEST):
        sriov.set_vf_count(conn, "eth3", 0, files=files)
    assert files.writes == []
    assert host.numvfs.read_text().strip() == "2"


def test_vf_count_changes_through_zero_once_no_guest_runs_with_a_vf(conn: Connection, host: SriovHost) -> None:
    conn.lifecycle(GUEST, "destroy")  # its config still names the VF; only a running guest blocks
    files = KernelLikeFiles(host.sysfs)
    plan = sriov.plan_vf_count(conn, "eth3", 4, files=files)
    assert plan.writes == (0, 4)
    assert "2 VFs are removed first" in plan.describe()
    change = sriov.set_vf_count(conn, "eth3", 4, files=files)
    numvfs = f"/sys/bus/pci/devices/{PF}/sriov_numvfs"
    assert files.writes == [(numvfs, "0"), (numvfs, "4")]
    assert host.numvfs.read_text().strip() == "4"
    assert change.to_json() == {
        "host": conn.uri, "pf": PF, "netdev": "eth3", "before": 2, "after": 4, "total": 7,
        "written": [0, 4], "changed": True, "path": numvfs,
    }  # fmt: skip
    # The same count again writes nothing; from 0 one write is enough.
    assert sriov.set_vf_count(conn, "eth3", 4, files=files).written == ()
    sriov.set_vf_count(conn, PF, 0, files=files)
    assert sriov.set_vf_count(conn, PF, 3, files=files).written == (3,)
    assert files.writes[-2:] == [(numvfs, "0"), (numvfs, "3")]


def test_vf_count_bounds_and_read_only_refuse_before_writing(host: SriovHost) -> None:
    files = KernelLikeFiles(host.sysfs)
    with connect(host.uri) as conn:
        conn.lifecycle(GUEST, "destroy")
        for bad in (8, -1):
            with pytest.raises(UsageError):
                sriov.set_vf_count(conn, "eth3", bad, files=files)
    with connect(host.uri, read_only=True) as ro, pytest.raises(DeniedError):
        sriov.set_vf_count(ro, "eth3", 1, files=files)
    assert files.writes == []


def test_vf_count_without_sriov_numvfs_says_so(conn: Connection, tmp_path: Path) -> None:
    with pytest.raises(OperationError, match="no readable .*sriov_numvfs"):
        sriov.set_vf_count(conn, "eth3", 1, files=KernelLikeFiles(tmp_path / "empty"))


def test_pool_over_the_pf_is_defined_started_and_listed(conn: Connection) -> None:
    made = sriov.create_pool(conn, "eth3")
    assert (made.name, made.pf, made.pf_dev, made.active) == ("sriov-eth3", PF, "eth3", True)
    (pf,) = sriov.inventory(conn).pfs
    assert [(p.name, p.pf_devs, p.active) for p in pf.pools] == [("sriov-eth3", ("eth3",), True)]
    active, pool = conn.network_state("sriov-eth3")
    assert active
    assert pool is not None
    assert pool.pf_devs == ("eth3",)
    with pytest.raises(UsageError, match="exists already"):
        sriov.create_pool(conn, "eth3")
    with pytest.raises(UsageError):
        sriov.create_pool(conn, "eth3", name="bad/name")
    named = sriov.create_pool(conn, PF, name="vfs-a")
    assert named.name == "vfs-a"


def test_attach_refuses_bad_input_before_any_call(conn: Connection) -> None:
    from vmtui.ops import vf

    with pytest.raises(UsageError, match="already given to"):
        vf.attach_vf(conn, PLAIN, vf=VF1)
    with pytest.raises(NotFoundError, match="no VF"):
        vf.attach_vf(conn, PLAIN, vf="0000:03:10.5")
    with pytest.raises(UsageError, match="multicast"):
        vf.attach_vf(conn, PLAIN, vf=VF0, mac="01:00:5e:00:00:01")
    with pytest.raises(UsageError, match="VLAN"):
        vf.attach_vf(conn, PLAIN, vf=VF0, vlan=5000)
    with pytest.raises(UsageError, match="pool"):
        vf.attach_vf(conn, PLAIN)
    with pytest.raises(NotFoundError, match="no network"):
        vf.attach_vf(conn, PLAIN, pool="nope")


def test_devices_report_and_the_migration_helper_name_the_vf(conn: Connection) -> None:
    report = devices.report(conn, GUEST)
    (nic,) = report.devices
    assert (nic.device.dev_class, nic.device.source, nic.device.mac, nic.device.vlan) == (
        "passthrough", VF1, GUEST_MAC, 42
    )  # fmt: skip
    info = conn.domain(GUEST)
    assert [d.source for d in devices.passthrough_devices(info)] == [VF1]
    why = devices.passthrough_refusal(info)
    assert why is not None
    assert VF1 in why
    assert GUEST_MAC in why
    assert devices.passthrough_refusal(conn.domain(PLAIN)) is None
    plain = devices.report(conn, PLAIN).devices[0]
    assert (plain.device.model, plain.switch) == ("e1000", "live")
