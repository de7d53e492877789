"""The migration pre-checks' verdicts (ok, warn, fail, skipped) and their words, rule by rule.

Each test states the two hosts' answers (`RecordedHost`) and reads the verdict `vmtui migrate --check`
prints. A 1 GiB guest needs 1 GiB + 64 MiB (QEMU's overhead) = 1114112 KiB free on the target.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from recorded_migrator import UUID, RecordedHost, as_migrator, host_info

from vmtui.errors import OperationError
from vmtui.models import Accelerator, Device, DeviceClass, DomainInfo, DomainPresence, JobStats
from vmtui.ops.migrate.precheck import Check, PrecheckReport, available_kib, precheck, unreachable

GIB = 1048576
INFO = DomainInfo(UUID, "web", 1, "running", Accelerator.KVM, 1, GIB, GIB, True)
ROOMY = {"total": 8 * GIB, "free": 4 * GIB}


def _verdicts(domain: DomainInfo = INFO, *, src: RecordedHost | None = None, copy: bool = False,
              **target: object) -> dict[str, tuple[str, str]]:  # fmt: skip
    dst = RecordedHost(**{"memory": ROOMY, **target})  # type: ignore[arg-type]
    report = precheck(as_migrator(src or RecordedHost()), as_migrator(dst), domain, source="kvm1", target="kvm2",
                      copy_storage=copy)  # fmt: skip
    return {c.key: (c.status, c.reason) for c in report.checks}


def test_a_domain_that_can_move_passes_every_check_in_order() -> None:
    report = precheck(as_migrator(RecordedHost(info=host_info("aaaa"))), as_migrator(RecordedHost(memory=ROOMY,
                      info=host_info("bbbb"))), INFO, source="kvm1", target="kvm2")  # fmt: skip
    assert [(c.key, c.label, c.status, c.reason) for c in report.checks] == [
        ("reachable", "target reachable", "ok", "connected to kvm2"),
        ("same-host", "not the same host", "ok", "target host UUID bbbb"),
        ("state", "domain can migrate live", "ok", "it is running"),
        ("job", "no other job on it", "ok", "none running"),
        ("hostdev", "no passthrough host devices", "ok", "none attached"),
        ("cpu", "CPU compatible", "ok", "kvm2 can run its CPU definition (kvm)"),
        ("memory", "enough free memory on the target", "ok", "needs 1088 MiB, 4096 MiB available"),
        ("name", "no name clash on the target", "ok", "no web on kvm2"),
        ("storage", "storage reachable from the target", "ok", "no disks"),
    ]
    assert (report.ok, report.failures, report.summary()) == (True, [], "all pre-checks passed")
    assert (report.memory_needed_kib, report.memory_available_kib) == (1114112, 4 * GIB)
    assert (report.domain, report.uuid, report.source, report.target) == ("web", UUID, "kvm1", "kvm2")


def test_neither_host_is_probed_for_its_files() -> None:
    # host_info(probe=True) reads the host's files (one SSH round trip each on a remote host): the
    # pre-checks need only libvirt's own answers.
    src, dst = RecordedHost(), RecordedHost(memory=ROOMY)
    precheck(as_migrator(src), as_migrator(dst), INFO, source="kvm1", target="kvm2")
    assert (src.probed, dst.probed) == ([False], [False])


def test_local_disks_need_copy_storage_unless_asked_for() -> None:
    two_local = DISKS.replace("/nfs/web.qcow2", "/local/web.qcow2")
    report = precheck(as_migrator(RecordedHost(xml=two_local)), as_migrator(RecordedHost(memory=ROOMY)), INFO,
                      source="kvm1", target="kvm2")  # fmt: skip
    storage = report.checks[-1]
    assert (storage.status, storage.reason) == (
        "fail",
        "vda (/local/web.qcow2), vdb (/local/data.qcow2) not on storage the target shares: needs --copy-storage "
        "(the target must have room for it)",
    )


def test_the_same_host_under_two_names_is_refused_and_unknown_uuids_are_not_the_same() -> None:
    same = _verdicts(src=RecordedHost(info=host_info("aaaa")), info=host_info("aaaa"))
    assert same["same-host"] == ("fail", "both are host aaaa (libvirt's host UUID)")
    # Neither host tells its UUID (libvirt's test driver, old hosts): nothing says they are the same.
    assert _verdicts()["same-host"] == ("ok", "target host UUID ?")
    assert _verdicts(src=RecordedHost(info=host_info("aaaa")))["same-host"] == ("ok", "target host UUID ?")


@pytest.mark.parametrize("state", ["running", "blocked", "paused"])
def test_running_blocked_and_paused_domains_can_move_live(state: str) -> None:
    assert _verdicts(replace(INFO, state=state))["state"] == ("ok", f"it is {state}")


def test_a_shut_off_domain_is_refused_and_its_cpu_not_judged() -> None:
    # Its job is not even asked (an active one would otherwise fail the job check too).
    src = RecordedHost(job=JobStats("unbounded", "backup"))
    checks = _verdicts(replace(INFO, state="shut off"), src=src)
    assert checks["state"] == ("fail", "it is shut off: live migration moves a running domain")
    assert checks["job"] == ("ok", "none running")
    assert checks["cpu"] == ("skipped", "it is shut off")


def test_a_running_job_is_refused_with_how_long_it_has_run() -> None:
    # 2.501 s prints as 3 s.
    src = RecordedHost(job=JobStats("unbounded", "backup", elapsed_ms=2501))
    assert _verdicts(src=src)["job"] == (
        "fail", "a backup job is running on it, for 3 s: `vmtui migrate attach` watches it, "
        "`vmtui migrate abort` stops it",
    )  # fmt: skip
    src = RecordedHost(job=JobStats("bounded", "migration-out"))
    assert _verdicts(src=src)["job"] == (
        "fail", "a migration-out job is running on it: `vmtui migrate attach` watches it, "
        "`vmtui migrate abort` stops it",
    )  # fmt: skip
    assert _verdicts(src=RecordedHost(job=JobStats("completed", "backup")))["job"] == ("ok", "none running")


def test_passthrough_devices_are_named_and_refused() -> None:
    vf = Device("hostdev", "hostdev0", "vfio", DeviceClass.PASSTHROUGH, detail="0000:03:10.1")
    gpu = Device("hostdev", "hostdev1", "vfio", DeviceClass.PASSTHROUGH)
    nic = Device("nic", "52:54:00:00:00:01", "virtio", DeviceClass.PARAVIRTUAL)
    checks = _verdicts(replace(INFO, devices=(nic, vf, gpu)))
    assert checks["hostdev"] == (
        "fail",
        "hostdev hostdev0 (0000:03:10.1), hostdev hostdev1 (vfio) passed through from the source host; detach it "
        "first (for an SR-IOV VF: use macvtap or a virtio NIC with failover)",
    )
    assert _verdicts(replace(INFO, devices=(nic,)))["hostdev"] == ("ok", "none attached")


def test_cpu_verdicts() -> None:
    assert _verdicts(info=host_info(kvm=False))["cpu"] == ("fail", "the domain uses KVM and kvm2 cannot run KVM guests")
    tcg = "<domain type='qemu'><name>web</name><cpu mode='custom'><model>qemu64</model></cpu></domain>"
    assert _verdicts(src=RecordedHost(xml=tcg), info=host_info(kvm=False))["cpu"] == (
        "ok", "kvm2 can run its CPU definition (qemu)",
    )  # fmt: skip
    passthrough = "<domain type='kvm'><name>web</name><cpu mode='host-passthrough'/></domain>"
    assert _verdicts(src=RecordedHost(xml=passthrough))["cpu"] == (
        "warn", "host-passthrough CPU: libvirt cannot compare it; only identical hosts work",
    )  # fmt: skip
    read_only = _verdicts(read_only=True)
    assert read_only["cpu"] == ("skipped", "libvirt compares CPUs only on a writable connection to kvm2")
    assert _verdicts(cpu_refusal="the host CPU lacks avx512f")["cpu"] == ("fail", "the host CPU lacks avx512f")
    bare = "<domain><name>web</name></domain>"
    assert _verdicts(src=RecordedHost(xml=bare))["cpu"] == ("ok", "kvm2 can run the machine type's default CPU (?)")


def test_the_target_is_asked_about_the_domains_own_cpu() -> None:
    dst = RecordedHost(memory=ROOMY)
    precheck(as_migrator(RecordedHost()), as_migrator(dst), INFO, source="kvm1", target="kvm2")
    assert [(f.virt_type, f.cpu_mode) for f in dst.asked_cpu] == [("kvm", "custom")]
    assert dst.asked_cpu[0].cpu_xml is not None
    assert "Skylake-Client" in dst.asked_cpu[0].cpu_xml


def test_free_memory_exactly_what_the_guest_needs_is_enough() -> None:
    # 1114112 KiB = 1088 MiB needed; free + buffers + page cache = 1000000 + 64112 + 50000 = 1114112.
    exact = {"free": 1000000, "buffers": 64112, "cached": 50000}
    assert _verdicts(memory=exact)["memory"] == ("ok", "needs 1088 MiB, 1088 MiB available")
    # One KiB short: 1114111 KiB is 1087.99 MiB, printed 1087.
    short = {"free": 1000000, "buffers": 64112, "cached": 49999}
    assert _verdicts(memory=short)["memory"] == ("fail", "needs 1088 MiB (guest + QEMU), 1087 MiB available")
    assert _verdicts(memory={"total": 8 * GIB})["memory"] == ("warn", "the target does not report its free memory")


def test_available_memory_is_free_plus_what_the_kernel_gives_back() -> None:
    assert available_kib({"free": 100, "buffers": 20, "cached": 3}) == 123
    assert available_kib({"free": 100}) == 100
    assert available_kib({"buffers": 20, "cached": 3}) is None


def test_name_verdicts_on_the_target() -> None:
    other = _verdicts(named=("6f1e0c7a-0000-4000-8000-00000000ffff", False))
    assert other["name"] == ("fail", "kvm2 has another domain called web (UUID 6f1e0c7a-0000-4000-8000-00000000ffff)")
    # The same domain, its UUID in capitals: not a clash (it may be an inactive definition of it).
    assert _verdicts(named=(UUID.upper(), False))["name"] == ("ok", "no web on kvm2")
    running = _verdicts(there=DomainPresence(UUID, True, "paused"))
    assert running["name"] == ("fail", "it is already paused on kvm2")
    defined = _verdicts(there=DomainPresence(UUID, True, "shut off"))
    assert defined["name"] == ("warn", "kvm2 holds an inactive definition of it; the migration replaces it")


DISKS = """<domain type='kvm'><name>web</name><devices>
  <disk type='file' device='disk'><source file='/nfs/web.qcow2'/><target dev='vda'/></disk>
  <disk type='file' device='disk'><source file='/local/data.qcow2'/><target dev='vdb'/></disk>
  <disk type='network' device='disk'><source protocol='rbd' name='pool/x'/><target dev='vdc'/></disk>
</devices></domain>"""


def test_storage_verdicts() -> None:
    src = RecordedHost(xml=DISKS)
    shared = _verdicts(src=src, visible=frozenset({"/nfs/web.qcow2", "/local/data.qcow2"}))
    assert shared["storage"] == ("ok", "shared: vda, vdb, vdc")
    local = _verdicts(src=src, visible=frozenset({"/nfs/web.qcow2"}))
    assert local["storage"] == (
        "fail",
        "vdb (/local/data.qcow2) not on storage the target shares: needs --copy-storage (the target must have room "
        "for it)",
    )
    copied = _verdicts(src=src, visible=frozenset({"/nfs/web.qcow2"}), copy=True)
    assert copied["storage"] == ("ok", "copied during the migration: vdb (/local/data.qcow2)")
    network_only = "<domain type='kvm'><name>web</name><devices><disk type='network' device='disk'>" \
        "<source protocol='rbd' name='pool/x'/><target dev='vdc'/></disk></devices></domain>"  # fmt: skip
    assert _verdicts(src=RecordedHost(xml=network_only))["storage"] == ("ok", "shared: vdc")


def _report(*statuses: str) -> PrecheckReport:
    checks = zip(("memory", "name", "storage")[: len(statuses)], statuses, strict=True)
    return PrecheckReport("web", UUID, "kvm1", "kvm2", tuple(Check(k, k, s, f"{k} said {s}") for k, s in checks))


def test_the_summary_names_failures_or_counts_warnings() -> None:
    assert _report("ok", "warn").summary() == "all pre-checks passed (1 warning)"
    assert _report("warn", "warn", "ok").summary() == "all pre-checks passed (2 warnings)"
    assert _report("ok", "skipped").summary() == "all pre-checks passed"
    failed = _report("fail", "warn", "fail")
    assert (failed.ok, [c.key for c in failed.failures]) == (False, ["memory", "storage"])
    assert failed.summary() == "memory: memory said fail; storage: storage said fail"
    assert failed.to_json() == {
        "domain": "web", "uuid": UUID, "source": "kvm1", "target": "kvm2", "ok": False,
        "checks": [{"key": k, "label": k, "status": s, "reason": f"{k} said {s}"}
                   for k, s in (("memory", "fail"), ("name", "warn"), ("storage", "fail"))],
        "memory_needed_kib": None, "memory_available_kib": None,
    }  # fmt: skip


def test_an_unreachable_target_fails_one_check_and_skips_the_rest() -> None:
    report = unreachable(INFO, "kvm1", "kvm2", OperationError("cannot connect: no route to host"))
    assert [(c.key, c.status, c.reason) for c in report.checks] == [
        ("reachable", "fail", "cannot connect: no route to host"),
        *[(k, "skipped", "target unreachable")
          for k in ("same-host", "state", "job", "hostdev", "cpu", "memory", "name", "storage")],
    ]  # fmt: skip
    assert (report.domain, report.uuid, report.source, report.target) == ("web", UUID, "kvm1", "kvm2")
    assert report.summary() == "target reachable: cannot connect: no route to host"
