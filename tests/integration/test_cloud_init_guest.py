"""A real cloud-init guest: Debian's cloud-init and qemu-guest-agent (tests/cloud_image.py) made by
`vmtui create --hostname --user --ssh-key`, as a user would, and booted under TCG.

What cloud-init did is read back through the guest agent, with virsh (not through vmtui): the
hostname the agent reports, the user's authorized_keys file, the instance-id cloud-init ran for and
cloud-init's own result (no errors, the seed read from the CD-ROM). Waits are on the guest's state,
bounded. The image is built once and cached (a build takes about 1.5 min; scripts/run-tests.sh starts
it in the background before the suite, and this test waits for it).
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cloud_image
import pytest
from conftest import LOCAL_URI, need, run_vmtui
from fixtures_resources import virsh, vol_names

from vmtui.drivers.libvirt.driver import Connection

pytestmark = [pytest.mark.xdist_group("cloud-init-guest"), pytest.mark.qemu, pytest.mark.cli]

T = TypeVar("T")
BOOT_TIMEOUT = 420.0
"""From start to cloud-init's end: about 1.5 min under TCG on a loaded 2-core machine."""


@dataclass(frozen=True)
class Place:
    prefix: str
    pool: str
    work: Path


@pytest.fixture(scope="module")
def image() -> cloud_image.CloudImage:
    need(shutil.which("mmdebstrap") is not None, "mmdebstrap builds the cloud-init image; run `make setup`")
    return cloud_image.ensure()


@pytest.fixture
def place(local_conn: Connection) -> Iterator[Place]:
    """A directory pool of the test's own; every domain and volume it holds is removed after."""
    prefix = f"vmtui-test-ci{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    work.chmod(0o755)  # QEMU runs as libvirt-qemu and must reach the volumes
    (work / "pool").mkdir(mode=0o755)
    pool = f"{prefix}-pool"
    try:
        virsh("pool-create-as", pool, "dir", "--target", str(work / "pool"))
        yield Place(prefix, pool, work)
    finally:
        for dom in local_conn.list_domains():
            if dom.name.startswith(prefix):
                local_conn.destroy_and_undefine(dom.uuid)
        if virsh("pool-info", pool, check=False):
            for vol in vol_names(pool, work / "pool"):
                virsh("vol-delete", "--pool", pool, vol, check=False)
            virsh("pool-destroy", pool, check=False)
        shutil.rmtree(work, ignore_errors=True)


def agent(domain: str, command: str, **arguments: object) -> object:
    """One guest agent command through virsh; its "return" value. Raises when the agent does not answer."""
    request = json.dumps({"execute": command, **({"arguments": arguments} if arguments else {})})
    proc = subprocess.run(
        ["virsh", "-c", LOCAL_URI, "qemu-agent-command", "--timeout", "10", domain, request],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AgentError(proc.stderr.strip())
    return json.loads(proc.stdout)["return"]


class AgentError(Exception):
    pass


def read_guest_file(domain: str, path: str) -> str:
    """A file of the guest, read through the agent (guest-file-open/read/close)."""
    handle = agent(domain, "guest-file-open", path=path, mode="r")
    try:
        chunks = []
        while True:
            got = agent(domain, "guest-file-read", handle=handle, count=65536)
            assert isinstance(got, dict)
            chunks.append(base64.b64decode(got["buf-b64"]))
            if got["eof"] or not got["count"]:
                return b"".join(chunks).decode()
    finally:
        agent(domain, "guest-file-close", handle=handle)


def wait_for(what: str, probe: Callable[[], T], deadline: float) -> T:
    """`probe()`'s value once it stops raising AgentError (the agent not up yet, the file not there yet)."""
    while True:
        try:
            return probe()
        except AgentError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {BOOT_TIMEOUT:.0f} s of the start ({exc})") from None
        time.sleep(1)


@pytest.mark.timeout(cloud_image.BUILD_TIMEOUT + BOOT_TIMEOUT + 120)
def test_cloud_init_applies_the_seeded_hostname_and_key(image: cloud_image.CloudImage, place: Place) -> None:
    name = f"{place.prefix}-guest"
    hostname = f"ci-{secrets.token_hex(4)}"
    user = "vmtuitester"
    key_file = place.work / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}-key", "-f", str(key_file)], check=True
    )
    public_key = key_file.with_suffix(".pub").read_text().strip()

    started = time.monotonic()
    created = run_vmtui(
        "create", name, "-c", LOCAL_URI, "--pool", place.pool, "--network", "user", "--memory", "512MiB",
        "--accel", "tcg",  # nested KVM here (kvm_pvm) hangs stock Linux; TCG is the same everywhere
        "--image", str(image.disk), "--kernel", str(image.kernel), "--initrd", str(image.initrd),
        "--cmdline", image.cmdline,
        "--hostname", hostname, "--user", user, "--ssh-key", str(key_file.with_suffix(".pub")),
        "--start", "--json", check=True, timeout=180,
    )  # fmt: skip
    instance_id = json.loads(created.stdout)["seed"]["instance_id"]
    running = time.monotonic()
    deadline = running + BOOT_TIMEOUT

    wait_for("the guest agent", lambda: agent(name, "guest-ping"), deadline)
    agent_up = time.monotonic()
    # cloud-init writes result.json when its last stage ends; before that the hostname may be the image's.
    result = json.loads(
        wait_for("cloud-init's result", lambda: read_guest_file(name, "/run/cloud-init/result.json"), deadline)
    )
    done = time.monotonic()
    print(
        f"\ncloud-init guest: create {running - started:.1f} s, start to agent {agent_up - running:.1f} s, "
        f"to cloud-init done {done - running:.1f} s; image {image.disk_bytes / 2**20:.0f} MiB qcow2, "
        f"built in {image.build_seconds:.0f} s"
    )

    assert result["v1"]["errors"] == [], result
    assert result["v1"]["datasource"].startswith("DataSourceNoCloud [seed=/dev/sr0]"), result  # vmtui's CD-ROM
    assert read_guest_file(name, "/var/lib/cloud/data/instance-id").strip() == instance_id
    assert agent(name, "guest-get-host-name") == {"host-name": hostname}
    assert read_guest_file(name, f"/home/{user}/.ssh/authorized_keys").splitlines() == [public_key]

    # vmtui's own agent path says the same.
    stats = json.loads(run_vmtui("stats", name, "-c", LOCAL_URI, "--json", "--interval", "0.2", check=True).stdout)
    assert stats["guest"]["hostname"] == hostname, stats["guest"]
