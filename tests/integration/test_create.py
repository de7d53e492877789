"""`vmtui create` on the local libvirtd: uploads, copies, overlays, installers, the seed, the dry run,
and every bad input refused before anything is made, with what virsh lists before and after compared.

Everything lives in a pool of this module's own (a directory pool, and a 1 MiB tmpfs pool for "no
room"); guests are 128 MiB and boot nothing (a blank disk), so each test takes about a second.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pycdlib
import pytest
from conftest import LOCAL_URI, VMTUI, run_vmtui
from fixtures_resources import virsh, vol_names
from linux_image import cached_linux_image
from lxml import etree
from pty_run import ctrl_c_and_finish, run_as_foreground_job, run_in_pty

from vmtui.drivers.libvirt.connection import event_loop_iterations, event_loop_quiet
from vmtui.drivers.libvirt.driver import Connection
from vmtui.errors import NotFoundError, OperationError, UsageError, VmtuiError
from vmtui.ops import create as ops
from vmtui.ops.base import Step, UserCancelledError


@dataclass(frozen=True)
class Pools:
    prefix: str
    pool: str
    pool_dir: Path
    small: str
    """A pool on a 1 MiB tmpfs: too small for `image`."""
    image: Path
    """A 16 MiB qcow2 with 1 MiB of data (0x5a bytes) at its start."""
    work: Path


def _remove_pool(name: str, where: Path) -> None:
    if virsh("pool-info", name, check=False):
        for vol in vol_names(name, where):
            virsh("vol-delete", "--pool", name, vol, check=False)
        virsh("pool-destroy", name, check=False)


@pytest.fixture(scope="module")
def pools(local_conn: Connection) -> Iterator[Pools]:
    prefix = f"vmtui-test-cr{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    work.chmod(0o755)  # QEMU runs as libvirt-qemu and must reach the disks
    pool_dir, small_dir = work / "pool", work / "small"
    pool_dir.mkdir(mode=0o755)
    small_dir.mkdir(mode=0o755)
    image = work / "image.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 1M", str(image)], check=True, capture_output=True)
    mounted = False
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(small_dir)], check=True)
        mounted = True
        virsh("pool-create-as", f"{prefix}-pool", "dir", "--target", str(pool_dir))
        virsh("pool-create-as", f"{prefix}-small", "dir", "--target", str(small_dir))
        yield Pools(prefix, f"{prefix}-pool", pool_dir, f"{prefix}-small", image, work)
    finally:
        for dom in local_conn.list_domains():
            if dom.name.startswith(prefix):
                local_conn.destroy_and_undefine(dom.uuid)
        _remove_pool(f"{prefix}-pool", pool_dir)
        _remove_pool(f"{prefix}-small", small_dir)
        if mounted:
            subprocess.run(["umount", str(small_dir)], check=False)
        shutil.rmtree(work, ignore_errors=True)


def world(p: Pools) -> tuple[list[str], list[str], list[str]]:
    """What a failed create must leave as it found: this module's domains (other tests' guests come and
    go beside it), and the volumes of both pools (virsh's lists)."""
    domains = sorted(d for d in virsh("list", "--all", "--name").split() if d.startswith(p.prefix))
    return domains, vol_names(p.pool, p.pool_dir), vol_names(p.small, p.pool_dir.parent / "small")


def dumpxml(name: str) -> etree._Element:
    return etree.fromstring(virsh("dumpxml", name).encode())


def at(el: etree._Element, path: str) -> str:
    """The string value of an XPath from `el` (an attribute, a text); "" when it selects nothing."""
    return str(el.xpath(f"string({path})"))


def request(p: Pools, name: str, **kw: object) -> ops.CreateRequest:
    base: dict[str, object] = {"pool": p.pool, "network": "user", "memory": "128MiB"}
    return ops.CreateRequest(name=f"{p.prefix}-{name}", **{**base, **kw})  # type: ignore[arg-type]


def iso_file(path: Path, name: str) -> str:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, rr_path="/" + name)
    label = iso.pvd.volume_identifier.decode().strip()
    iso.close()
    return f"{label}:{out.getvalue().decode()}"


def test_image_uploaded_with_seed_and_started(local_conn: Connection, pools: Pools) -> None:
    req = request(pools, "up", image=str(pools.image), start=True, cloud_init=ops.CloudInit(hostname="seeded-1"))
    steps: list[Step] = []
    done = ops.create(local_conn, ops.plan_create(local_conn, req), progress=steps.append)
    name = req.name
    assert virsh("domstate", name).strip() == "running"
    disk = pools.pool_dir / f"{name}.qcow2"
    # The uploaded volume holds exactly the image's data (qemu-img compares the guest-visible contents).
    subprocess.run(["qemu-img", "compare", "-q", "-U", str(pools.image), str(disk)], check=True)
    assert iso_file(pools.pool_dir / f"{name}-seed.iso", "meta-data") == (
        f"cidata:instance-id: {done.plan.seed.instance_id if done.plan.seed else ''}\nlocal-hostname: seeded-1\n"
    )
    xml = dumpxml(name)
    kvm = local_conn.host_info(probe=False).kvm_usable
    assert xml.get("type") == ("kvm" if kvm else "qemu")
    assert (xml.findtext("os/type") or "") == "hvm"
    assert "q35" in at(xml, "os/type/@machine")
    vda = "devices/disk[target/@dev='vda']"
    assert (at(xml, f"{vda}/target/@bus"), at(xml, f"{vda}/driver/@type")) == ("virtio", "qcow2")
    assert at(xml, f"{vda}/source/@volume") == f"{name}.qcow2"
    assert at(xml, "devices/disk[@device='cdrom']/source/@volume") == f"{name}-seed.iso"
    assert at(xml, "devices/interface/model/@type") == "virtio"
    assert at(xml, "devices/memballoon/@model") == "virtio"
    assert at(xml, "devices/memballoon/stats/@period") == "5"
    assert xml.find("devices/channel/target[@name='org.qemu.guest_agent.0']") is not None
    assert xml.find("devices/serial") is not None
    # The upload reported a bar's figures: bytes of the image, then of the seed.
    bars = [s for s in steps if s.data.get("type") == "progress"]
    assert bars
    assert bars[-1].fraction == 1.0
    assert {s.data["volume"] for s in bars} == {f"{name}.qcow2", f"{name}-seed.iso"}


def test_copy_and_linked_overlay_of_a_pool_volume(local_conn: Connection, pools: Pools) -> None:
    base = f"{pools.prefix}-base.qcow2"
    virsh("vol-create-as", pools.pool, base, "16M", "--format", "qcow2")
    copy = request(pools, "copy", image=f"{pools.pool}/{base}")
    ops.create(local_conn, ops.plan_create(local_conn, copy))
    linked = request(pools, "linked", image=f"{pools.pool}/{base}", linked=True, disk="32MiB")
    ops.create(local_conn, ops.plan_create(local_conn, linked))
    copied = etree.fromstring(virsh("vol-dumpxml", "--pool", pools.pool, f"{copy.name}.qcow2").encode())
    assert at(copied, "target/format/@type") == "qcow2"
    assert copied.findtext("capacity") == str(16 * 2**20)
    assert copied.find("backingStore/path") is None
    overlay = etree.fromstring(virsh("vol-dumpxml", "--pool", pools.pool, f"{linked.name}.qcow2").encode())
    assert overlay.findtext("backingStore/path") == str(pools.pool_dir / base)
    assert overlay.findtext("capacity") == str(32 * 2**20)


def test_installer_iso_boots_cdrom_then_disk(local_conn: Connection, pools: Pools) -> None:
    iso = pycdlib.PyCdlib()
    iso.new(vol_ident="INSTALLER")
    iso.add_fp(io.BytesIO(b"hello"), 5, "/README.;1")
    installer = pools.work / "installer.iso"
    iso.write(str(installer))
    iso.close()
    req = request(pools, "iso", iso=str(installer), disk="64MiB")
    ops.create(local_conn, ops.plan_create(local_conn, req))
    xml = dumpxml(req.name)
    assert [b.get("dev") for b in xml.findall("os/boot")] == ["cdrom", "hd"]
    assert at(xml, "devices/disk[@device='cdrom']/source/@volume") == f"{req.name}-install.iso"
    empty = etree.fromstring(virsh("vol-dumpxml", "--pool", pools.pool, f"{req.name}.qcow2").encode())
    assert empty.findtext("capacity") == str(64 * 2**20)


def test_os_variant_gives_defaults_and_no_virtio_for_windows(local_conn: Connection, pools: Pools) -> None:
    # Figures from /usr/share/osinfo/os/debian.org/debian-11.xml and microsoft.com/win-10.xml, read by hand.
    plan = ops.plan_create(
        local_conn, request(pools, "win", image=str(pools.image), memory=None, os_variant="win10"), dry_run=True
    )
    assert plan.domain.memory_kib == 2 * 1024 * 1024
    xml = etree.fromstring(plan.xml.encode())
    assert at(xml, "devices/disk[@device='disk']/target/@bus") == "sata"
    assert at(xml, "devices/interface/model/@type") == "e1000e"
    assert at(xml, "metadata/*[local-name()='libosinfo']/*[local-name()='os']/@id") == "http://microsoft.com/win/10"
    plan = ops.plan_create(
        local_conn, request(pools, "deb", image=str(pools.image), memory=None, os_variant="debian11"), dry_run=True
    )
    assert (plan.domain.memory_kib, plan.domain.vcpus) == (1024 * 1024, 1)


def test_dry_run_prints_plan_and_xml_and_changes_nothing(pools: Pools) -> None:
    before = world(pools)
    proc = run_vmtui(
        "create", f"{pools.prefix}-dry", "--image", str(pools.image), "--hostname", "dry-1", "--pool", pools.pool,
        "--memory", "128M", "-c", LOCAL_URI, "--dry-run", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["dry_run"] is True
    assert [(v["action"], v["volume"]) for v in body["volumes"]] == [
        ("upload", f"{pools.prefix}-dry.qcow2"),
        ("seed", f"{pools.prefix}-dry-seed.iso"),
    ]
    assert body["seed"]["hostname"] == "dry-1"
    xml = etree.fromstring(body["xml"].encode())
    assert xml.findtext("name") == f"{pools.prefix}-dry"
    assert xml.findtext("memory") == str(128 * 1024)
    assert world(pools) == before


@pytest.fixture
def bad_files(pools: Pools) -> dict[str, Path]:
    text = pools.work / "notes.txt"
    text.write_text("not a disk\n" * 100)
    user_data = pools.work / "user-data.yaml"
    user_data.write_text("#cloud-config\nhostname: a\nruncmd:\n\t- ls\n")
    return {"text": text, "user_data": user_data}


def bad_requests(p: Pools, f: dict[str, Path]) -> dict[str, tuple[ops.CreateRequest, type[VmtuiError], str]]:
    return {
        "name exists": (request(p, "up", image=str(p.image)), OperationError, f"domain {p.prefix}-up exists on"),
        "missing image": (request(p, "m", image=str(p.work / "nope.qcow2")), UsageError, "nope.qcow2: no such file"),
        "not a disk image": (request(p, "t", image=str(f["text"])), UsageError, "notes.txt is not a disk image"),
        "no room": (request(p, "r", image=str(p.image), pool=p.small), OperationError, "free; the new volumes need"),
        "bad user-data": (
            request(p, "u", image=str(p.image), cloud_init=ops.CloudInit(user_data=f["user_data"])),
            UsageError,
            "user-data.yaml:4: invalid YAML: found character '\\t' that cannot start any token",
        ),
        "size without unit": (request(p, "s", image=str(p.image), memory="512"), UsageError, "has no unit"),
        "no such pool": (request(p, "p", image=str(p.image), pool="vmtui-no-pool"), NotFoundError, "no storage pool"),
        "unknown os": (request(p, "o", image=str(p.image), os_variant="debian1"), UsageError, "did you mean"),
        "missing pool volume": (request(p, "v", image=f"{p.pool}/nope"), NotFoundError, "no volume 'nope'"),
    }


BAD = [
    "name exists", "missing image", "not a disk image", "no room", "bad user-data", "size without unit",
    "no such pool", "unknown os", "missing pool volume",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_input_refused_before_anything_is_made(
    case: str, local_conn: Connection, pools: Pools, bad_files: dict[str, Path]
) -> None:
    # virsh prints an empty line on stdout (and the error on stderr) for a domain that does not exist.
    if case == "name exists" and not virsh("domstate", f"{pools.prefix}-up", check=False).strip():
        ops.create(local_conn, ops.plan_create(local_conn, request(pools, "up", image=str(pools.image))))
    req, error, words = bad_requests(pools, bad_files)[case]
    before = world(pools)
    with pytest.raises(error) as caught:
        ops.create(local_conn, ops.plan_create(local_conn, req))
    text = str(caught.value)
    assert words in text
    assert "\n" not in text
    assert world(pools) == before


def test_cli_errors_are_one_line_with_exit_codes(pools: Pools, bad_files: dict[str, Path]) -> None:
    base = ["create", f"{pools.prefix}-cli", "--pool", pools.pool, "-c", LOCAL_URI]
    proc = run_vmtui(*base, "--image", str(pools.image), "--cloud-init", str(bad_files["user_data"]))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"vmtui: error: {bad_files['user_data']}:4: invalid YAML: found character '\\t' that cannot start any token\n"
    )
    proc = run_vmtui(*base, "--image", str(pools.image), "--disk", "10", "--linked", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["message"] == "size '10' has no unit"


def test_failure_after_the_upload_leaves_nothing(local_conn: Connection, pools: Pools) -> None:
    # q35 takes at most 288 vCPUs: libvirt refuses the definition, after both uploads are done.
    req = request(pools, "fail", image=str(pools.image), vcpus=1000, cloud_init=ops.CloudInit(hostname="x"))
    before = world(pools)
    steps: list[Step] = []
    with pytest.raises(VmtuiError, match="Maximum CPUs greater than specified machine type limit"):
        ops.create(local_conn, ops.plan_create(local_conn, req), progress=steps.append)
    assert any(s.text.startswith("defining") for s in steps)  # it failed after the uploads, not before
    assert world(pools) == before


def test_start_failure_and_cancel_leave_nothing(local_conn: Connection, pools: Pools) -> None:
    before = world(pools)
    req = request(pools, "nobr", image=str(pools.image), network="bridge=vmtuinobr0", start=True)
    with pytest.raises(VmtuiError, match="vmtuinobr0"):
        ops.create(local_conn, ops.plan_create(local_conn, req))
    assert world(pools) == before
    cancel = threading.Event()

    def press_ctrl_c(step: Step) -> None:  # what run_op does on Ctrl-C: set the event mid-upload
        if step.data.get("type") == "progress":
            cancel.set()

    req = request(pools, "cancel", image=str(pools.image), cloud_init=ops.CloudInit(hostname="x"))
    with pytest.raises(UserCancelledError):
        ops.create(local_conn, ops.plan_create(local_conn, req), progress=press_ctrl_c, cancel=cancel)
    assert world(pools) == before


def test_ctrl_c_during_the_upload_leaves_nothing(pools: Pools, tmp_path: Path) -> None:
    """The real Ctrl-C (SIGINT to the foreground job) while the disk streams: exit 130, cancelled,
    and the half-uploaded volume is gone."""
    big = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(big), "1G"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x33 0 256M", str(big)], check=True, capture_output=True)
    before = world(pools)
    name = f"{pools.prefix}-ctrlc"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    argv = [VMTUI, "create", name, "--image", str(big), "--pool", pools.pool, "--memory", "128M", "-c", LOCAL_URI]
    proc = run_as_foreground_job([*argv, "--json"], env=env)
    try:
        uploading = pools.pool_dir / f"{name}.qcow2"
        deadline = time.monotonic() + 60
        # Blocks allocated: the stream has written into the (sparse, fresh) volume; it is half-way.
        while not (uploading.exists() and uploading.stat().st_blocks > 0) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        out, err = ctrl_c_and_finish(proc)
    assert proc.returncode == 130, (out, err)
    assert json.loads(out)["error"]["kind"] == "cancelled"
    assert world(pools) == before


def test_console_starts_the_vm_and_attaches_its_serial_console(pools: Pools) -> None:
    """`create --console` at a terminal: the VM is made, started and its serial console attached; the guest's
    own words reach the terminal (the lab image's init says the seed's hostname in its "up" lines), and
    Ctrl-] returns to the shell with exit 0 and the VM still running."""
    linux = cached_linux_image()
    name = f"{pools.prefix}-console"
    argv = [
        VMTUI, "create", name, "--kernel", str(linux.kernel), "--initrd", str(linux.initrd),
        "--cmdline", linux.cmdline(), "--pool", pools.pool, "--memory", "128M", "--network", "user",
        # TCG, as the lab runs it: under KVM here (nested, a CPU without pni) this kernel never reaches its console.
        "--accel", "tcg", "--hostname", "consoled", "-c", LOCAL_URI, "--console",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    code, said = run_in_pty(argv, [("host consoled", "\x1d")], env=env, timeout=120, controlling=True)
    assert code == 0, said
    assert f"vmtui: console of {name} on " in said
    assert "host consoled" in said  # the guest's console, not only vmtui's line
    assert virsh("domstate", name).strip() == "running"


def test_sparse_raw_image_keeps_its_holes(local_conn: Connection, pools: Pools, tmp_path: Path) -> None:
    """A raw disk (an MBR boot signature) of 64 MiB with 1 MiB written: the stream sends the holes as
    holes, so the volume holds the same bytes and takes about 1 MiB of the pool, not 64."""
    raw = tmp_path / "disk.raw"
    with raw.open("wb") as f:
        f.truncate(64 * 2**20)
        f.seek(510)
        f.write(b"\x55\xaa")
        f.seek(32 * 2**20)
        f.write(b"\x77" * 2**20)
    req = request(pools, "raw", image=str(raw))
    ops.create(local_conn, ops.plan_create(local_conn, req))
    vol = pools.pool_dir / f"{req.name}.raw"
    subprocess.run(["cmp", str(raw), str(vol)], check=True)
    assert vol.stat().st_blocks * 512 < 4 * 2**20
    assert at(dumpxml(req.name), "devices/disk[@device='disk']/driver/@type") == "raw"


def test_an_upload_keeps_the_event_loop_quiet_and_lets_it_run_after(
    local_conn: Connection, pools: Pools, tmp_path: Path
) -> None:
    """Each 256 KiB sent used to wake libvirt's event loop about three times (a GIL hand-off each: 40%
    more CPU, and a quarter of the throughput on a busy machine). While the stream sends, the loop is
    held quiet and runs only a few times a second; after the upload, also a failed one, it runs as before."""
    chunks = 128  # of 256 KiB: 32 MiB of data, no holes
    data = tmp_path / "data.raw"
    data.write_bytes(os.urandom(chunks * 256 * 1024))
    name = f"{pools.prefix}-quiet.raw"
    vol = etree.Element("volume")
    etree.SubElement(vol, "name").text = name
    etree.SubElement(vol, "capacity").text = str(data.stat().st_size)
    etree.SubElement(etree.SubElement(vol, "target"), "format", type="raw")
    xml = etree.tostring(vol, encoding="unicode")
    quiet_when_sent: list[bool] = []
    before = event_loop_iterations()
    with data.open("rb") as f:
        local_conn.upload_volume(pools.pool, xml, f, data.stat().st_size,
                                 sent=lambda _done: quiet_when_sent.append(event_loop_quiet()))  # fmt: skip
    during = event_loop_iterations() - before
    assert len(quiet_when_sent) == chunks
    assert all(quiet_when_sent)
    assert during < chunks / 2, f"the event loop ran {during} times while {chunks} chunks were sent"
    subprocess.run(["cmp", str(data), str(pools.pool_dir / name)], check=True)  # every byte arrived
    assert not event_loop_quiet()
    ran = event_loop_iterations()
    local_conn.list_domains()  # a call wakes the loop: it hands the socket back to it
    deadline = time.monotonic() + 10
    while event_loop_iterations() == ran and time.monotonic() < deadline:
        time.sleep(0.01)
    assert event_loop_iterations() > ran, "the event loop did not run again after the upload"

    def cancel(done: int) -> None:
        if done > 2**20:
            raise UserCancelledError("upload")

    with data.open("rb") as f, pytest.raises(UserCancelledError):
        local_conn.upload_volume(pools.pool, xml.replace("quiet.raw", "quiet2.raw"), f, data.stat().st_size,
                                 sent=cancel)  # fmt: skip
    assert not event_loop_quiet()
    assert f"{pools.prefix}-quiet2.raw" not in vol_names(pools.pool, pools.pool_dir)
    virsh("vol-delete", "--pool", pools.pool, name)


def test_delete_storage_takes_a_direct_boot_vms_kernel_initrd_and_seed_but_keeps_a_kernel_another_boots(
    local_conn: Connection, pools: Pools
) -> None:
    """`create --kernel --initrd` uploads both as volumes of the pool: `delete --storage` removes them with
    the VM's seed, except a volume another domain still boots from (named as kept)."""
    kernel, initrd = pools.work / "k-vmlinuz", pools.work / "k-initrd.img"
    kernel.write_bytes(b"\x7fnot a real kernel" * 64)
    initrd.write_bytes(b"not a real initrd" * 64)
    first = request(pools, "k1", kernel=str(kernel), initrd=str(initrd), cloud_init=ops.CloudInit(hostname="k1"))
    ops.create(local_conn, ops.plan_create(local_conn, first))
    made = [f"{pools.prefix}-k1-kernel", f"{pools.prefix}-k1-initrd", f"{pools.prefix}-k1-seed.iso"]
    assert set(made) <= set(vol_names(pools.pool, pools.pool_dir))
    # A second domain boots from the first one's kernel volume (defined by hand, as another tool would).
    other = dumpxml(f"{pools.prefix}-k1")
    for tag in ("uuid", "devices"):
        node = other.find(tag)
        assert node is not None
        other.remove(node)
    name = other.find("name")
    assert name is not None
    name.text = f"{pools.prefix}-k2"
    os_node = other.find("os")
    assert os_node is not None
    initrd_node = os_node.find("initrd")
    assert initrd_node is not None
    os_node.remove(initrd_node)  # only the kernel is shared
    local_conn.define_xml(etree.tostring(other, encoding="unicode"))

    proc = run_vmtui("delete", f"{pools.prefix}-k1", "--storage", "--yes", "-c", LOCAL_URI, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    removed = sorted(Path(p).name for p in json.loads(proc.stdout)["volumes_removed"])
    assert removed == sorted(made[1:])
    left = [v for v in vol_names(pools.pool, pools.pool_dir) if v.startswith(f"{pools.prefix}-k1")]
    assert left == [made[0]]  # the kernel the other domain boots from
