"""`vmtui create` over qemu+ssh: the lab's guest image (kernel, initramfs) and a small qcow2 reach lab2
only through libvirt's stream upload, the VM boots, and its init reads the NoCloud seed and says the
hostname on the serial console (the lab image's stand-in for cloud-init, vmtui/lab/image.py). The same VM,
then a template, gives a linked clone whose init says the clone's own hostname: its seed is its own."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from fixtures_lab import LabHandle

from vmtui.lab import image

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


def read_console(uri: str, name: str, wanted: tuple[str, ...], within: float) -> str:
    """The guest's serial console through libvirt (as `virsh console` reads it) until one of `wanted` shows."""
    conn = libvirt.open(uri)
    seen = bytearray()
    found = threading.Event()
    try:
        stream = conn.newStream(0)
        conn.lookupByName(name).openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)

        def pump() -> None:
            try:
                while not found.is_set():
                    data = stream.recv(4096)
                    if not isinstance(data, bytes) or not data:
                        return
                    seen.extend(data)
                    if any(w.encode() in seen for w in wanted):
                        found.set()
            except libvirt.libvirtError:
                return

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        found.wait(within)
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        reader.join(5)
    finally:
        conn.close()
    text = seen.decode(errors="replace")
    assert found.is_set(), f"{wanted!r} not on {name}'s console within {within:g} s; it said:\n{text[-2000:]}"
    return text


@pytest.fixture
def lab2_pool(lab: LabHandle) -> Iterator[str]:
    """A directory pool inside lab2's own /var/lib/libvirt, removed with every volume in it."""
    name = f"vmtui-test-crp{secrets.token_hex(2)}"
    for args in (("pool-define-as", name, "dir", "--target", f"/var/lib/libvirt/images/{name}"),
                 ("pool-build", name), ("pool-start", name)):  # fmt: skip
        proc = lab.virsh("lab2", *args)
        assert proc.returncode == 0, proc.stderr
    try:
        yield name
    finally:
        lab.virsh("lab2", "pool-refresh", name)
        for line in lab.virsh("lab2", "vol-list", name).stdout.splitlines():
            if line.split():
                lab.virsh("lab2", "vol-delete", "--pool", name, line.split()[0])
        for verb in ("pool-destroy", "pool-delete", "pool-undefine"):
            lab.virsh("lab2", verb, name)


def test_create_over_ssh_uploads_boots_and_the_guest_reads_its_seed(
    lab: LabHandle, lab2_pool: str, tmp_path: Path
) -> None:
    guest = image.find_image()
    assert guest is not None, "the lab fixture builds the guest image"
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    name = f"vmtui-test-cr-{secrets.token_hex(2)}"
    clone = f"{name}-clone"
    uri = lab.uris["lab2"]
    try:
        proc = lab.vmtui(
            "create", name, "-c", uri, "--pool", lab2_pool, "--image", str(disk),
            "--kernel", str(guest.kernel), "--initrd", str(guest.initrd), "--cmdline", guest.cmdline(),
            "--memory", "256M", "--network", "user", "--accel", "tcg", "--hostname", "seeded-lab",
            "--start", "--json",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        body = json.loads(proc.stdout)
        assert body["state"] == "running"
        assert [v["action"] for v in body["volumes"]] == ["upload", "upload", "upload", "seed"]
        # lab2's own view (virsh over the same URI): the domain runs, and its volumes are in the pool.
        assert lab.virsh("lab2", "domstate", name).stdout.strip() == "running"
        volumes = lab.virsh("lab2", "vol-list", lab2_pool).stdout
        for vol in (f"{name}.qcow2", f"{name}-kernel", f"{name}-initrd", f"{name}-seed.iso"):
            assert vol in volumes
        started = time.monotonic()
        # The init's hostname is "(none)" until it reads the seed: it says the seed's hostname once when
        # it sets it (seen when the console is open by then), and in its "up" line every 10 s.
        read_console(uri, name, ("VMTUI-SEED hostname=seeded-lab", "host seeded-lab"), within=120)
        print(f"seed hostname on the console {time.monotonic() - started:.1f} s after the start")

        # The VM as a template, and a linked clone of it started over qemu+ssh: the clone's init reads
        # the clone's own seed (the template's read back through the download stream and re-made) and
        # says the clone's name as its hostname, not seeded-lab.
        assert lab.virsh("lab2", "destroy", name).returncode == 0
        assert lab.vmtui("template", name, "-c", uri).returncode == 0
        proc = lab.vmtui("clone", name, clone, "--linked", "--start", "--json", "-c", uri)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seed = json.loads(proc.stdout)["seed"]
        assert (seed["hostname"], seed["volume"], seed["user_data"]) == (clone, f"{clone}-seed.iso", "source")
        assert seed["replaces"].endswith(f"/{name}-seed.iso")
        started = time.monotonic()
        read_console(uri, clone, (f"VMTUI-SEED hostname={clone}", f"host {clone}"), within=120)
        print(f"the clone's hostname on its console {time.monotonic() - started:.1f} s after the clone")
    finally:
        for made in (clone, name):
            lab.virsh("lab2", "destroy", made)
            lab.virsh("lab2", "undefine", made)
