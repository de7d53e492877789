"""libvirt's test driver, served by the running libvirtd, as a source of N fake domains for benchmarks.

The test driver reads a "node" XML file (host CPU, memory, and `<domain type='test'>` elements) when a
connection opens `test+unix:///ABS/PATH.xml`; the daemon (not this process) opens the file, so it must sit
in a directory the daemon can read. `served_node(n)` writes such a file in a fresh directory under /tmp,
checks that the daemon serves it, and removes the directory on exit. Nothing is started or stopped: the
system libvirtd must already be running.

Limits of the test driver worth knowing when reading numbers: its `getAllDomainStats` fills only the
`state.*` (and `iothread.*`) groups, whatever groups are asked for, and every connection re-parses the
file (so a fresh connection to a 1000-domain node costs more than one to a 10-domain node).

Usage (from another benchmark: `sys.path` must hold `bench/`, as it does for `python bench/x.py`):

    from testdriver import served_node
    with served_node(100) as node:
        conn = libvirt.open(node.uri)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

UUID_NAMESPACE = uuid.UUID("6f6d7a2c-8a5e-4d0b-9c1e-766d7475690a")
"""Fixed, so domain N has the same UUID in every run (and across sizes)."""


@dataclass(frozen=True, slots=True)
class NodeFile:
    path: Path
    domains: int

    @property
    def uri(self) -> str:
        return f"test+unix://{self.path}"


def domain_xml(index: int, *, vcpus: int = 4, memory_kib: int = 1_048_576, running: bool = True) -> str:
    """One `<domain type='test'>` with several vCPUs, a virtio disk and a virtio NIC."""
    name = f"bench-{index:04d}"
    dom_uuid = uuid.uuid5(UUID_NAMESPACE, name)
    mac = f"52:54:00:{index >> 16 & 0xFF:02x}:{index >> 8 & 0xFF:02x}:{index & 0xFF:02x}"
    state = "" if running else " state='inactive'"
    return f"""  <domain type='test'{state}>
    <name>{escape(name)}</name>
    <uuid>{dom_uuid}</uuid>
    <memory unit='KiB'>{memory_kib}</memory>
    <currentMemory unit='KiB'>{memory_kib}</currentMemory>
    <vcpu placement='static'>{vcpus}</vcpu>
    <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
    <on_poweroff>destroy</on_poweroff>
    <on_reboot>restart</on_reboot>
    <on_crash>destroy</on_crash>
    <devices>
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2'/>
        <source file='/var/lib/libvirt/images/{escape(name)}.qcow2'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <interface type='network'>
        <mac address='{mac}'/>
        <source network='default'/>
        <model type='virtio'/>
      </interface>
      <memballoon model='virtio'/>
    </devices>
  </domain>
"""


def node_xml(domains: int, *, vcpus: int = 4, host_cpus: int = 64, host_memory_kib: int = 268_435_456) -> str:
    """A whole test-driver node: a host with `host_cpus` CPUs and `domains` running domains."""
    cores = max(1, host_cpus // 2)
    parts = [
        "<node>\n",
        "  <cpu>\n"
        "    <mhz>3000</mhz>\n"
        "    <model>x86_64</model>\n"
        f"    <active>{host_cpus}</active>\n"
        "    <nodes>1</nodes>\n"
        "    <sockets>1</sockets>\n"
        f"    <cores>{cores}</cores>\n"
        "    <threads>2</threads>\n"
        "  </cpu>\n",
        f"  <memory>{host_memory_kib}</memory>\n",
    ]
    parts.extend(domain_xml(i, vcpus=vcpus) for i in range(1, domains + 1))
    parts.append("</node>\n")
    return "".join(parts)


def check_served(uri: str, expected: int, *, virsh: str = "virsh") -> None:
    """Fail clearly when the daemon does not serve `uri` with `expected` running domains."""
    proc = subprocess.run(
        [virsh, "-q", "-c", uri, "list", "--name"], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"libvirtd does not serve {uri}: {proc.stderr.strip()}\n"
            "(is the system libvirtd running, and can it read the node file?)"
        )
    got = len([line for line in proc.stdout.splitlines() if line.strip()])
    if got != expected:
        raise RuntimeError(f"{uri}: expected {expected} running domains, virsh lists {got}")


@contextmanager
def served_node(domains: int, *, vcpus: int = 4, parent: str = "/tmp", check: bool = True) -> Iterator[NodeFile]:
    """A node file with `domains` running test domains, served by the system libvirtd; removed on exit."""
    directory = Path(tempfile.mkdtemp(prefix="vmtui-bench-", dir=parent))
    try:
        # The daemon may run as another user: let it traverse the directory and read the file.
        os.chmod(directory, 0o755)
        path = directory / f"node-{domains}.xml"
        path.write_text(node_xml(domains, vcpus=vcpus), encoding="utf-8")
        os.chmod(path, 0o644)
        node = NodeFile(path=path, domains=domains)
        if check:
            check_served(node.uri, domains)
        yield node
    finally:
        shutil.rmtree(directory, ignore_errors=True)
