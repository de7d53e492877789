"""What `vmtui lab up` copies of the system's /etc/libvirt into each lab host: its settings, never its
domains, pools or autostart links (a lab host starts empty, and defines its own pool `default`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from vmtui.lab.manager import _system_definitions


def test_the_systems_domains_pools_and_autostart_links_stay_behind(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    for rel in ("libvirtd.conf", "qemu.conf", "qemu/web.xml", "qemu/autostart/web.xml",
                "qemu/networks/default.xml", "qemu/networks/autostart/default.xml",
                "storage/default.xml", "storage/autostart/default.xml", "nwfilter/clean-traffic.xml"):  # fmt: skip
        (etc / rel).parent.mkdir(parents=True, exist_ok=True)
        (etc / rel).write_text("x")
    shutil.copytree(etc, tmp_path / "copy", ignore=_system_definitions)
    copied = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert copied == [
        "libvirtd.conf", "nwfilter/clean-traffic.xml", "qemu.conf", "qemu/networks/default.xml",
    ]  # fmt: skip
