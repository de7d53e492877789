"""Templates, clones, delete and disk resize on the real local libvirtd, through the real `vmtui` command.

Each test gets a template guest of its own on a fresh 16 MiB qcow2 base in a test pool (`clone_pool`);
`virsh`, `qemu-img` and sha256 are the witnesses. Every refused command is checked to leave the pool's
volumes and the domains exactly as they were. A live resize is also read inside a running guest (the
lab's Linux image, its disk a volume of the pool): /sys/block/vda/size on its serial console.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from clone_pool import (
    LOCAL_URI,
    ClonePool,
    Template,
    attach_seed,
    clone_pool,
    define_template,
    domains,
    macs,
    remove_domain,
    seed_file,
    sha256,
    virsh,
    vol_field,
    volumes,
    what_exists,
)
from conftest import VMTUI, run_vmtui
from linux_image import cached_linux_image
from lxml import etree
from serial_shell import SerialShell

from vmtui.drivers.libvirt.driver import Connection
from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml
from vmtui.errors import OperationError
from vmtui.ops import clone as ops
from vmtui.ops.base import Step, UserCancelledError

pytestmark = pytest.mark.timeout(180)

MIB = 1024 * 1024


def vm(*args: str) -> subprocess.CompletedProcess[str]:
    """The real `vmtui` on the local host (the host option before a "--" that ends the options)."""
    cut = args.index("--") if "--" in args else len(args)
    return run_vmtui(*args[:cut], "-c", LOCAL_URI, *args[cut:])


def vm_json(*args: str) -> Any:
    proc = vm(*args, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def fails(rc: int, words: str, *args: str) -> None:
    """The command fails with `rc` and says `words` in one line, without a traceback."""
    proc = vm(*args)
    assert proc.returncode == rc, f"{args}: {proc.returncode}\n{proc.stdout}{proc.stderr}"
    assert words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def refused(
    pool: ClonePool, rc: int, words: str, *args: str, before: tuple[list[str], list[str]] | None = None
) -> None:
    """`fails`, and no volume or domain appeared or went (`before`: listed already)."""
    before = before or what_exists(pool)
    fails(rc, words, *args)
    assert what_exists(pool) == before, args


def vmtui_meta(name: str) -> dict[str, str]:
    """The attributes of vmtui's element in the persistent definition's <metadata>, read with lxml."""
    root = etree.fromstring(virsh("dumpxml", "--inactive", name).encode())
    mark = root.find("metadata/{urn:vmtui:guest}guest")
    return {str(k): str(v) for k, v in mark.attrib.items()} if mark is not None else {}


def backing_of(path: Path | str) -> str | None:
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], capture_output=True,
                                     text=True, check=True, timeout=30).stdout)  # fmt: skip
    value = info.get("backing-filename")
    return str(value) if value is not None else None


def state(name: str) -> str:
    return virsh("domstate", name).strip()


@pytest.fixture(scope="module")
def pool() -> Iterator[ClonePool]:
    with clone_pool() as made:
        yield made


@pytest.fixture
def template(pool: ClonePool, local_conn: Connection) -> Iterator[Template]:
    suffix = f"t{secrets.token_hex(2)}"
    made = define_template(pool, suffix, kvm=local_conn.host_info(probe=False).kvm_usable)
    try:
        yield made
    finally:
        for name in domains(pool):
            if name.startswith(made.name):
                remove_domain(name)
        for vol in volumes(pool):
            if vol.startswith((made.name, suffix)):
                virsh("vol-delete", "--pool", pool.name, vol, check=False)


def test_template_mark_refuses_start_and_is_seen_by_list(template: Template) -> None:
    done = vm_json("template", template.name)
    assert (done["template"], done["changed"]) == (True, True)
    # In the persistent XML, beside the role vmtui's test guests carry (kept, since cleanup finds guests by it).
    assert vmtui_meta(template.name) == {"role": "test", "template": "yes"}
    listed = vm_json("list")
    assert [d["template"] for d in listed["domains"] if d["name"] == template.name] == [True]
    assert "template" in vm("list").stdout.split(template.name, 1)[1].splitlines()[0]

    start = vm("start", template.name)
    assert start.returncode == 1
    assert f"start {template.name}: it is a template: clone it" in start.stderr
    assert state(template.name) == "shut off"
    assert vm_json("template", template.name)["changed"] is False

    unset = vm_json("template", template.name, "--unset")
    assert unset["template"] is False
    assert vmtui_meta(template.name) == {"role": "test"}


def test_full_clone_has_its_own_uuid_macs_and_copied_volume(pool: ClonePool, template: Template) -> None:
    vm_json("template", template.name)
    base_sum = sha256(template.base)
    name = f"{template.name}-full"
    done = vm_json("clone", template.name, name)
    assert done["uuid"] == virsh("domuuid", name).strip() != template.uuid
    assert macs(name)
    assert macs(template.name)
    assert set(macs(name)).isdisjoint(macs(template.name))
    assert done["macs"] == macs(name)
    copy = pool.path / f"{name}-vda.qcow2"
    assert done["volumes"] == [
        {"pool": pool.name, "name": copy.name, "path": str(copy), "format": "qcow2", "backing": None}
    ]
    assert copy.name in volumes(pool)
    assert backing_of(copy) is None  # a full copy stands alone
    same = subprocess.run(["qemu-img", "compare", "-U", str(template.base), str(copy)], capture_output=True, timeout=60)
    assert same.returncode == 0, same.stdout  # the guest sees the same data
    blocks = virsh("domblklist", name)
    assert str(copy) in blocks
    assert str(pool.iso) in blocks  # the CD-ROM is shared, not copied
    assert done["shared"] == [str(pool.iso)]
    assert vmtui_meta(name) == {"role": "test"}  # a clone is no template
    assert sha256(template.base) == base_sum


def test_three_linked_clones_start_at_once_and_the_base_stays(pool: ClonePool, template: Template) -> None:
    vm_json("template", template.name)
    base_sum = sha256(template.base)
    names = [f"{template.name}-l{i}" for i in range(3)]
    procs = [
        subprocess.Popen(
            [VMTUI, "clone", template.name, n, "--linked", "--start", "--json", "-c", LOCAL_URI],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in names
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        results.append(json.loads(out))
    assert [r["started"] for r in results] == [True] * 3
    assert [state(n) for n in names] == ["running"] * 3
    uuids = {virsh("domuuid", n).strip() for n in names} | {template.uuid}
    assert len(uuids) == 4
    all_macs = [m for n in [*names, template.name] for m in macs(n)]
    assert len(all_macs) == len(set(all_macs)) == 4
    for n in names:
        overlay = pool.path / f"{n}-vda.qcow2"
        assert backing_of(overlay) == str(template.base)
    assert sha256(template.base) == base_sum  # three guests ran on it and wrote nothing to it
    fails(1, f"{names[0]} is running: only a shut-off domain becomes a template", "template", names[0])
    assert vmtui_meta(names[0]) == {"role": "test"}


def test_delete_storage_removes_only_what_nothing_else_uses(pool: ClonePool, template: Template) -> None:
    vm_json("template", template.name)
    base_sum = sha256(template.base)
    one, two = f"{template.name}-d1", f"{template.name}-d2"
    vm_json("clone", template.name, one, "--linked")
    vm_json("clone", template.name, two, "--linked")
    overlay = pool.path / f"{one}-vda.qcow2"
    # Without a terminal the question is shown and nothing is done.
    refused(pool, 2, f"the storage volumes {overlay}", "delete", one, "--storage")
    fails(1, f"{template.name} is the base of linked clones {one}, {two}", "template", template.name, "--unset")
    assert vmtui_meta(template.name)["template"] == "yes"

    done = vm_json("delete", one, "--storage", "--yes")
    assert (done["volumes_removed"], done["kept_shared"]) == ([str(overlay)], [])
    assert not overlay.exists()
    assert template.base.exists()
    assert one not in domains(pool)

    refused(pool, 2, f"Kept: {template.base.name}, backing file of {two}.", "delete", template.name, "--storage")
    done = vm_json("delete", template.name, "--storage", "--yes")
    assert done["volumes_removed"] == []
    assert done["kept_shared"] == [
        {"path": str(template.base), "volume": template.base.name, "used_by": [], "backing_of": [two],
         "backing_of_volumes": []}
    ]  # fmt: skip
    assert template.name not in domains(pool)
    assert sha256(template.base) == base_sum
    virsh("start", two)  # its base is still there
    assert state(two) == "running"


def test_undefine_remove_storage_keeps_a_base_linked_clones_use(pool: ClonePool, template: Template) -> None:
    vm_json("template", template.name)
    clone = f"{template.name}-u1"
    vm_json("clone", template.name, clone, "--linked")
    # It deleted the base of linked clones before: now kept, and why.
    refused(
        pool, 2, f"Kept: {template.base.name}, backing file of {clone}.", "undefine", template.name, "--remove-storage"
    )
    done = vm_json("undefine", template.name, "--remove-storage", "--yes")
    assert done["volumes_removed"] == []
    assert template.base.exists()


def test_delete_refuses_running_unless_forced_and_takes_snapshot_metadata(pool: ClonePool, template: Template) -> None:
    name = f"{template.name}-snap"
    vm_json("clone", template.name, name)
    virsh("snapshot-create-as", name, "s1")  # an internal snapshot: libvirt keeps its metadata
    virsh("start", name)
    refused(pool, 1, f"delete {name}: it is running", "delete", name, "--yes")
    assert state(name) == "running"
    done = vm_json("delete", name, "--force", "--storage", "--yes")
    assert (done["forced_off"], done["snapshots_metadata_removed"]) == (True, 1)
    assert done["volumes_removed"] == [str(pool.path / f"{name}-vda.qcow2")]
    assert name not in domains(pool)
    assert f"{name}-vda.qcow2" not in volumes(pool)


def test_resize_offline_then_live_and_every_refusal(pool: ClonePool, template: Template) -> None:
    name = f"{template.name}-r"
    vm_json("clone", template.name, name)
    disk = pool.path / f"{name}-vda.qcow2"
    for rc, words, args in (
        (1, "vda is 16 MiB; shrinking it to 8.0 MiB is refused", ("vda", "8M")),
        (2, "size '100' has no unit", ("vda", "100")),
        (2, "has no disk 'vdb' (its disks: vda, sda)", ("vdb", "1G")),
        (1, "sda is a cdrom", ("sda", "1G")),
        (1, f"needs that much free in pool {pool.name}", ("vda", "+1P")),
        (2, "shrinking a disk is refused", ("vda", "--", "-1M")),
    ):
        fails(rc, words, "disk", "resize", name, *args)
        assert vol_field(disk, "Capacity") == str(16 * MIB)  # a resize makes nothing: its size is the witness

    done = vm_json("disk", "resize", name, "vda", "+16M")
    assert (done["before"], done["after"], done["live"]) == (16 * MIB, 32 * MIB, False)
    assert vol_field(disk, "Capacity") == str(32 * MIB)

    virsh("start", name)
    done = vm_json("disk", "resize", name, "vda", "48M")
    assert (done["before"], done["after"], done["live"]) == (32 * MIB, 48 * MIB, True)
    assert f"Capacity:       {48 * MIB}" in virsh("domblkinfo", name, "vda")
    fails(1, "vda is 48 MiB; shrinking it to 40 MiB is refused", "disk", "resize", name, "vda", "40M")
    assert f"Capacity:       {48 * MIB}" in virsh("domblkinfo", name, "vda")


BOOT_WITHIN = 90.0
"""Seconds for the guest's shell to answer: it boots in 3 to 20 s under TCG, longer on a busy machine."""
RESIZE_SEEN_WITHIN = 30.0
"""Seconds for the guest's kernel to read the new size (it does at once; a busy machine delays it)."""


def sectors_inside(shell: SerialShell) -> int:
    """/sys/block/vda/size as the guest's kernel reads it: 512-byte sectors."""
    said = shell.run("cat /sys/block/vda/size").strip()
    assert said.isdigit(), said
    return int(said)


def test_live_resize_is_seen_inside_the_guest_and_a_shrink_changes_nothing(
    pool: ClonePool, local_conn: Connection
) -> None:
    linux = cached_linux_image()
    name = f"{pool.prefix}-inside"
    virsh("vol-create-as", pool.name, f"{name}.qcow2", "32M", "--format", "qcow2")
    # TCG, as the lab runs it: under KVM here (nested, a CPU without pni) this kernel never reaches its console.
    spec = GuestSpec(
        name, domain_type="qemu", nic_model=None, disk=pool.path / f"{name}.qcow2", role="test",
        kernel=linux.kernel, initrd=linux.initrd, cmdline=linux.cmdline(),
    )  # fmt: skip
    try:
        local_conn.define_and_start(build_guest_xml(spec))
        shell = SerialShell(LOCAL_URI, name)
        try:
            shell.wait_for_shell(BOOT_WITHIN)
            assert sectors_inside(shell) == 65536  # 32 MiB = 32 * 2048 sectors

            done = vm_json("disk", "resize", name, "vda", "+16M")
            assert (done["before"], done["after"], done["live"]) == (32 * MIB, 48 * MIB, True)
            # virtio-blk tells the guest of the change; its kernel reads the new size from a work queue.
            deadline = time.monotonic() + RESIZE_SEEN_WITHIN
            while (inside := sectors_inside(shell)) == 65536 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert inside == 98304  # 48 MiB = 48 * 2048 sectors

            proc = vm("disk", "resize", name, "vda", "40M")
            assert proc.returncode == 1, proc.stdout + proc.stderr
            said = [line for line in proc.stderr.splitlines() if line.strip()]
            assert said == [
                f"vmtui: error: disk resize {name}: vda is 48 MiB; shrinking it to 40 MiB is refused"
                " (the end of a disk holds the guest's data)"
            ]
            assert sectors_inside(shell) == 98304
            assert f"Capacity:       {48 * MIB}" in virsh("domblkinfo", name, "vda")
        finally:
            shell.close()
    finally:
        remove_domain(name)
        virsh("vol-delete", "--pool", pool.name, f"{name}.qcow2", check=False)


def test_clone_refusals_leave_nothing_behind(pool: ClonePool, template: Template) -> None:
    plain = f"{template.name}-plain"
    vm_json("clone", template.name, plain)  # a full clone of a domain that is no template is allowed
    virsh("vol-create-as", pool.name, f"{template.name}-taken-vda.qcow2", "1M", "--format", "qcow2")
    before = what_exists(pool)  # listed once: each refusal below is compared with it
    for rc, words, *args in (
        (2, f"a domain named {plain} exists", template.name, plain),
        (2, "no '/'", template.name, "a/b"),
        (1, "it is not a template", plain, f"{template.name}-x", "--linked"),
        (2, f"has a volume {template.name}-taken-vda.qcow2 already", template.name, f"{template.name}-taken"),
        (3, "no-such-domain", f"{template.name}-no-such-domain", f"{template.name}-y"),
    ):
        refused(pool, int(rc), str(words), "clone", *map(str, args), before=before)
    virsh("start", plain)
    refused(pool, 1, f"clone {plain}: it is running; the source must be shut off", "clone", plain, f"{template.name}-z",
            before=before)  # fmt: skip


def test_failure_or_cancel_half_way_leaves_nothing(pool: ClonePool, template: Template, local_conn: Connection) -> None:
    name = f"{template.name}-half"
    plan = ops.plan_clone(local_conn, template.name, name)
    before = what_exists(pool)
    # Another tool takes the name between the checks and the definition: the copied volume goes again.
    other = local_conn.define_xml(build_guest_xml(GuestSpec(name=name, role="test", nic_model=None)))
    with pytest.raises(OperationError, match="already exists"):
        ops.clone(local_conn, plan)
    assert volumes(pool) == before[0]
    assert virsh("domuuid", name).strip() == other.uuid  # the other tool's domain is untouched
    remove_domain(name)

    # Ctrl-C (the cancel) once the definition is on its way: the definition and the volume both go.
    plan = ops.plan_clone(local_conn, template.name, name)
    cancel = threading.Event()

    def press_ctrl_c(step: Step) -> None:
        if step.text.startswith("defining"):
            cancel.set()

    with pytest.raises(UserCancelledError):
        ops.clone(local_conn, plan, progress=press_ctrl_c, cancel=cancel)
    assert what_exists(pool) == before


# ----- each clone's cloud-init seed -----------------------------------------------------------------

TEMPLATE_USER_DATA = "#cloud-config\nhostname: template\npackages: [htop]\n"


def meta(path: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in seed_file(path, "meta-data").splitlines())


def blocks(name: str) -> dict[str, str]:
    """target -> source, as virsh domblklist lists the domain's disks."""
    lines = virsh("domblklist", name).splitlines()[2:]
    return dict(line.split(None, 1) for line in lines if line.strip())


def test_each_linked_clone_gets_its_own_seed_and_the_templates_stays(pool: ClonePool, template: Template) -> None:
    seed = attach_seed(pool, template.name, f"{template.name}-cidata.iso", TEMPLATE_USER_DATA)
    vm_json("template", template.name)
    seed_sum = sha256(seed)
    names = [f"{template.name}-c{i}" for i in range(3)]
    procs = [
        subprocess.Popen([VMTUI, "clone", template.name, n, "--linked", "--json", "-c", LOCAL_URI],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in names
    ]  # fmt: skip
    ids = set()
    for n, proc in zip(names, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        done = json.loads(out)
        own = pool.path / f"{n}-seed.iso"
        assert done["seed"]["path"] == str(own)
        assert done["seed"]["replaces"] == str(seed)
        assert done["shared"] == [str(pool.iso)]  # the installer ISO is shared, the seed is not
        got = meta(own)
        assert got["local-hostname"] == n
        ids.add(got["instance-id"])
        user_data = seed_file(own, "user-data")
        assert user_data.startswith("#cloud-config\n")
        assert yaml.safe_load(user_data) == {"hostname": n, "packages": ["htop"]}  # kept, renamed
        assert blocks(n) == {"vda": str(pool.path / f"{n}-vda.qcow2"), "sda": str(pool.iso), "sdb": str(own)}
    assert len(ids) == 3
    assert f"iid-{template.name}" not in ids
    assert sha256(seed) == seed_sum
    assert meta(seed)["local-hostname"] == "template"

    # The clone's seed is its own storage: deleted with it; the template's stays.
    done = vm_json("delete", names[0], "--storage", "--yes")
    assert sorted(done["volumes_removed"]) == sorted(
        [str(pool.path / f"{names[0]}-vda.qcow2"), str(pool.path / f"{names[0]}-seed.iso")]
    )
    assert f"{names[0]}-seed.iso" not in volumes(pool)
    assert sha256(seed) == seed_sum


def test_clone_cloud_init_flags_and_a_seed_added(pool: ClonePool, template: Template, tmp_path: Path) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkR3xJ9Wq7m3gX0c1J8vYp2pQ5Xo7G0tP0m1E2cU3Aa test@vmtui"
    key_file = tmp_path / "id.pub"
    key_file.write_text(key + "\n")
    attach_seed(pool, template.name, f"{template.name}-cidata.iso", TEMPLATE_USER_DATA)
    vm_json("template", template.name)
    name = f"{template.name}-k"
    done = vm_json("clone", template.name, name, "--linked", "--hostname", "x", "--ssh-key", str(key_file))
    own = pool.path / f"{name}-seed.iso"
    assert (done["seed"]["hostname"], done["seed"]["user_data"]) == ("x", "options")
    assert meta(own)["local-hostname"] == "x"
    user_data = yaml.safe_load(seed_file(own, "user-data"))
    assert (user_data["hostname"], user_data["ssh_authorized_keys"]) == ("x", [key])
    assert "packages" not in user_data  # options replace the template's user-data

    # A source with no seed gets one added with the options (here a full clone of a plain domain).
    plain = f"{template.name}-plain"
    vm_json("clone", template.name, plain)
    virsh("detach-disk", plain, "sdb", "--config")
    added = f"{template.name}-added"
    done = vm_json("clone", plain, added, "--hostname", "y")
    assert done["seed"]["replaces"] is None
    own = pool.path / f"{added}-seed.iso"
    assert meta(own)["local-hostname"] == "y"
    assert blocks(added)["sdb"] == own.name  # a volume-type CD-ROM: domblklist names the volume


def test_bad_cloud_init_refused_before_anything(pool: ClonePool, template: Template, tmp_path: Path) -> None:
    attach_seed(pool, template.name, f"{template.name}-cidata.iso", TEMPLATE_USER_DATA)
    bad = tmp_path / "bad.yaml"
    bad.write_text("#cloud-config\nusers: [a\n")
    private = tmp_path / "id"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n")
    before = what_exists(pool)
    name = f"{template.name}-bad"
    refused(pool, 2, f"{bad}:3: invalid YAML", "clone", template.name, name, "--cloud-init", str(bad), before=before)
    refused(pool, 2, f"--ssh-key {private} is a private key", "clone", template.name, name, "--ssh-key",
            str(private), before=before)  # fmt: skip


def test_failure_or_cancel_half_way_leaves_no_seed(pool: ClonePool, template: Template, local_conn: Connection) -> None:
    attach_seed(pool, template.name, f"{template.name}-cidata.iso", TEMPLATE_USER_DATA)
    name = f"{template.name}-half"
    before = what_exists(pool)
    plan = ops.plan_clone(local_conn, template.name, name)
    assert plan.seed is not None
    other = local_conn.define_xml(build_guest_xml(GuestSpec(name=name, role="test", nic_model=None)))
    with pytest.raises(OperationError, match="already exists"):
        ops.clone(local_conn, plan)
    assert volumes(pool) == before[0]  # neither the copied disk nor the seed is left
    remove_domain(name)
    assert other.uuid

    # Ctrl-C while the seed is on its way: the seed volume and the copied disk both go.
    plan = ops.plan_clone(local_conn, template.name, name)
    cancel = threading.Event()

    def press_ctrl_c(step: Step) -> None:
        if "cloud-init seed" in step.text:
            cancel.set()

    with pytest.raises(UserCancelledError):
        ops.clone(local_conn, plan, progress=press_ctrl_c, cancel=cancel)
    assert what_exists(pool) == before
