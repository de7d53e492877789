"""Memory: the balloon of a domain (target, statistics period, statistics) and the host's KSM tunables.

KSM's `pages_to_scan`, `sleep_millisecs` and `merge_across_nodes` go through libvirt's node memory
parameters (privileged, ACL-checked, and they work over any remote URI); `run` is not among them and
is written through `hostfiles` by `vmtui.ops.ksm`. The per-domain KSM opt-out is `<nosharepages/>`
in the persistent definition: only `<memoryBacking>` is touched, the devices are left as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import libvirt
from lxml import etree

from vmtui.drivers.libvirt.connection import ConnectionCore, mapped
from vmtui.drivers.xml.read import parse_xml, read_domain_xml
from vmtui.errors import OperationError
from vmtui.models import state_name

if TYPE_CHECKING:  # built in balloon_reading: `vmtui list` opens a Connection too (see vmtui.models)
    from vmtui.models import BalloonReading

KSM_PARAMETERS = ("pages_to_scan", "sleep_millisecs", "merge_across_nodes")
"""The KSM tunables libvirt sets (`virNodeSetMemoryParameters` accepts only these three)."""
SHM_PREFIX = "shm_"
STAT_NAMES = {
    libvirt.VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON: "actual",
    libvirt.VIR_DOMAIN_MEMORY_STAT_UNUSED: "unused",
    libvirt.VIR_DOMAIN_MEMORY_STAT_AVAILABLE: "available",
    libvirt.VIR_DOMAIN_MEMORY_STAT_USABLE: "usable",
    libvirt.VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE: "last_update",
    libvirt.VIR_DOMAIN_MEMORY_STAT_RSS: "rss",
}
"""Keys of `memoryStats()` come as names already in libvirt-python; numbers map here for older bindings."""


def nosharepages_xml(xml: str, *, opt_out: bool) -> tuple[str, bool]:
    """The definition with `<memoryBacking><nosharepages/>` added (or removed); and whether it changed.

    Only `<memoryBacking>` changes: every other element, devices included, is kept as libvirt wrote it.
    """
    root = parse_xml(xml)
    backing = root.find("memoryBacking")
    present = backing is not None and backing.find("nosharepages") is not None
    if present == opt_out:
        return xml, False
    if opt_out:
        if backing is None:
            backing = etree.Element("memoryBacking")
            # libvirt's schema wants it after the memory elements; right after <currentMemory> is safe.
            anchor = root.find("currentMemory")
            anchor = anchor if anchor is not None else root.find("memory")
            if anchor is not None:
                anchor.addnext(backing)
            else:
                root.append(backing)
        etree.SubElement(backing, "nosharepages")
    else:
        assert backing is not None
        for el in backing.findall("nosharepages"):
            backing.remove(el)
        if len(backing) == 0 and not backing.attrib:
            root.remove(backing)
    return etree.tostring(root, encoding="unicode"), True


def _devices(xml: str) -> bytes:
    devices = parse_xml(xml).find("devices")
    return b"" if devices is None else etree.tostring(devices, method="c14n")


class MemoryMixin(ConnectionCore):
    if TYPE_CHECKING:
        # From DomainsMixin, which `Connection` puts before this mixin.
        def lookup(self, ident: str) -> Any: ...

    def balloon_reading(self, ident: str) -> BalloonReading:
        """The balloon of domain `ident`: limits, target, device, statistics period and statistics."""
        from vmtui.models import BalloonReading

        with mapped(self.uri, f"read the balloon of {ident!r}"):
            dom = self.lookup(ident)
            xml = read_domain_xml(dom.XMLDesc(0))
            state = dom.state()[0]
            active = bool(dom.isActive())
            stats: dict[str, int] = {}
            job = False
            if active:
                for key, value in dom.memoryStats().items():
                    stats[STAT_NAMES.get(key, str(key))] = int(value)
                try:
                    job = dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE
                except libvirt.libvirtError:
                    job = False  # drivers without job info: no job can be running through them
            return BalloonReading(
                uuid=dom.UUIDString(),
                name=dom.name(),
                state=state_name(state),
                max_kib=int(dom.maxMemory()),
                target_kib=xml.memory_kib,
                model=xml.balloon_model,
                period=xml.balloon_period,
                stats=MappingProxyType(stats),
                job_active=job,
            )

    def set_balloon_target(self, uuid: str, kib: int) -> None:
        """Set the live balloon target (`VIR_DOMAIN_AFFECT_LIVE` only: the definition keeps its size)."""
        self.require_writable("balloon")
        with mapped(self.uri, "balloon"):
            self._conn.lookupByUUIDString(uuid).setMemoryFlags(kib, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_balloon_period(self, uuid: str, seconds: int) -> None:
        """Ask the guest's balloon driver for statistics every `seconds` (live; 0 turns them off)."""
        self.require_writable("set the balloon statistics period")
        with mapped(self.uri, "set the balloon statistics period"):
            self._conn.lookupByUUIDString(uuid).setMemoryStatsPeriod(seconds, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    # ----- KSM through libvirt's node memory parameters ----------------------------------------

    def ksm_parameters(self) -> Mapping[str, int]:
        """KSM counters and tunables (pages_shared, pages_sharing, ..., pages_to_scan), without `shm_`.

        Empty where the host does not implement them (non-Linux, the test driver).
        """
        if "ksm" in self._unsupported:
            return MappingProxyType({})
        try:
            raw: dict[str, Any] = self._conn.getMemoryParameters(0)
        except libvirt.libvirtError as exc:
            if self._unsupported_error(exc):
                self._unsupported.add("ksm")
                return MappingProxyType({})
            with mapped(self.uri, "read KSM parameters"):
                raise
        return MappingProxyType({k.removeprefix(SHM_PREFIX): int(v) for k, v in raw.items()})

    def set_ksm_parameters(self, values: Mapping[str, int]) -> None:
        """Set some of pages_to_scan, sleep_millisecs, merge_across_nodes in one call."""
        unknown = set(values) - set(KSM_PARAMETERS)
        if unknown:
            raise OperationError(f"libvirt sets only {', '.join(KSM_PARAMETERS)}, not {', '.join(sorted(unknown))}")
        self.require_writable("tune KSM")
        with mapped(self.uri, "tune KSM"):
            self._conn.setMemoryParameters({SHM_PREFIX + k: int(v) for k, v in values.items()}, 0)

    def base_page_kib(self) -> int:
        """The host's base page size in KiB (the smallest `<pages>` of its capabilities; 4 on x86-64)."""
        with mapped(self.uri, "read capabilities"):
            caps = parse_xml(self._conn.getCapabilities())
        sizes = [int(p.get("size", "0")) for p in caps.iterfind("host/cpu/pages") if p.get("size", "").isdigit()]
        return min(sizes) if sizes else 4

    # ----- per-domain KSM opt-out ---------------------------------------------------------------

    def set_nosharepages(self, ident: str, *, opt_out: bool) -> bool:
        """Add (or remove) `<nosharepages/>` in the persistent definition; True when it changed.

        QEMU reads it at start (`mem-merge=off`): a running guest keeps its pages mergeable until its
        next boot. The devices are compared before and after: the change must not touch them.
        """
        what = "KSM opt-out" if opt_out else "KSM opt-in"
        self.require_writable(what)
        with mapped(self.uri, f"{what} of {ident!r}"):
            dom = self.lookup(ident)
            if not dom.isPersistent():
                raise OperationError(f"{dom.name()} is transient: it has no definition to keep the opt-out in")
            flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
            before = dom.XMLDesc(flags)
            changed_xml, changed = nosharepages_xml(before, opt_out=opt_out)
            if not changed:
                return False
            new = self._conn.defineXMLFlags(changed_xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            after = new.XMLDesc(flags)
            if _devices(after) != _devices(before):
                # Not expected from libvirt; if it ever happens, put the old definition back.
                self._conn.defineXMLFlags(before, 0)
                raise OperationError(f"KSM opt-out of {dom.name()}: the devices changed on define; reverted")
            return True

    def node_memory(self) -> dict[str, int]:
        """Host memory in KiB: total, free, buffers, cached (libvirt's node memory statistics)."""
        with mapped(self.uri, "read host memory"):
            raw = self._conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0)
        return {k: int(v) for k, v in raw.items()}
