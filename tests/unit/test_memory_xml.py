"""The KSM opt-out edit (pure XML) and finding ksmd in a /proc tree: no host needed."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from vmtui.drivers.hostfiles import LocalFiles
from vmtui.drivers.libvirt.memory import nosharepages_xml

DOMAIN = """<domain type='kvm'>
  <name>web&amp;1</name>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <interface type='user'><model type='virtio'/><rom enabled='no'/></interface>
    <memballoon model='virtio'><stats period='2'/></memballoon>
  </devices>
</domain>"""


def _c14n(xml: str, path: str) -> bytes:
    # Whitespace between elements is not content (libvirt re-indents what it is given anyway).
    el = etree.fromstring(xml.encode(), etree.XMLParser(remove_blank_text=True)).find(path)
    assert el is not None
    return etree.tostring(el, method="c14n")


def test_opt_out_adds_nosharepages_after_the_memory_elements_and_touches_nothing_else() -> None:
    out, changed = nosharepages_xml(DOMAIN, opt_out=True)
    assert changed
    root = etree.fromstring(out.encode())
    assert [el.tag for el in root][:5] == ["name", "memory", "currentMemory", "memoryBacking", "vcpu"]
    assert root.find("memoryBacking/nosharepages") is not None
    assert _c14n(out, "devices") == _c14n(DOMAIN, "devices")
    assert root.findtext("name") == "web&1"
    again, changed_again = nosharepages_xml(out, opt_out=True)
    assert (again, changed_again) == (out, False)


def test_opt_in_removes_it_and_an_empty_memory_backing() -> None:
    out, _ = nosharepages_xml(DOMAIN, opt_out=True)
    back, changed = nosharepages_xml(out, opt_out=False)
    assert changed
    assert etree.fromstring(back.encode()).find("memoryBacking") is None
    hugepages = out.replace("<nosharepages/>", "<nosharepages/><hugepages/>")
    kept, _ = nosharepages_xml(hugepages, opt_out=False)
    assert etree.fromstring(kept.encode()).find("memoryBacking/hugepages") is not None


def test_pids_of_finds_processes_by_name(tmp_path: Path) -> None:
    for pid, comm in ((12, "ksmd"), (40, "bash"), (77, "ksmtuned")):
        (tmp_path / "proc" / str(pid)).mkdir(parents=True)
        (tmp_path / "proc" / str(pid) / "comm").write_text(comm + "\n")
    (tmp_path / "proc" / "self").mkdir()
    files = LocalFiles(tmp_path)
    assert files.pids_of("ksmd") == [12]
    assert files.pids_of("ksmtuned") == [77]
    assert files.pids_of("qemu") == []
