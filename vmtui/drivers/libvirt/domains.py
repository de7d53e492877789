"""Domains: listing, lookup like virsh, XML, lifecycle, define and remove."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import libvirt

from vmtui.drivers.libvirt.connection import ConnectionCore, convert_error, mapped
from vmtui.drivers.xml.read import read_domain_xml
from vmtui.errors import NotFoundError, UsageError
from vmtui.models import DomainInfo, state_name

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")

LIFECYCLE_CALLS: dict[str, Callable[[Any], object]] = {
    "start": lambda d: d.create(),
    "shutdown": lambda d: d.shutdown(),
    "reboot": lambda d: d.reboot(0),
    "destroy": lambda d: d.destroy(),
    "suspend": lambda d: d.suspend(),
    "resume": lambda d: d.resume(),
    # Managed save: the state goes to a file the host keeps; the next create() restores it.
    "save": lambda d: d.managedSave(0),
}


class DomainsMixin(ConnectionCore):
    def domain_info(self, dom: Any, *, state_code: int | None = None, persistent: bool | None = None) -> DomainInfo:
        """A domain's facts; pass `state_code`/`persistent` when known to save a round trip each."""
        xml = read_domain_xml(dom.XMLDesc(0))
        if state_code is None:
            state_code = dom.state()[0]
        if persistent is None:
            persistent = bool(dom.isPersistent())
        dom_id = dom.ID()  # cached in the handle: no round trip
        return DomainInfo(
            uuid=sys.intern(dom.UUIDString()),  # the same string as the samples' (HostMixin.sample)
            name=sys.intern(dom.name()),
            id=dom_id if dom_id >= 0 else None,
            state=state_name(state_code),
            accelerator=xml.accelerator,
            vcpus=xml.vcpus,
            max_memory_kib=xml.max_memory_kib,
            memory_kib=xml.memory_kib,
            persistent=persistent,
            machine=xml.machine,
            devices=xml.devices,
            balloon_model=xml.balloon_model,
            balloon_period=xml.balloon_period,
            template=xml.template,
        )

    def list_domains(self) -> list[DomainInfo]:
        """Every domain, running or defined, sorted by name."""
        out = []
        with mapped(self.uri, "list domains"):
            domains = self._conn.listAllDomains(0)
            # Two bulk calls instead of a state() and an isPersistent() round trip per domain.
            persistent = {
                d.UUIDString() for d in self._conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT)
            }
            states = {
                d.UUIDString(): int(stats.get("state.state", 0))
                for d, stats in self._conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
            }
            for dom in domains:
                uuid = dom.UUIDString()
                try:
                    out.append(self.domain_info(dom, state_code=states.get(uuid), persistent=uuid in persistent))
                except libvirt.libvirtError as exc:
                    # Gone between listing and reading (destroyed, migrated away): skip it.
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
        return sorted(out, key=lambda d: d.name)

    def lookup(self, ident: str) -> Any:
        """Resolve a domain like virsh: an integer is an ID, a UUID-shaped string a UUID, else a name."""
        try:
            if ident.isdigit():
                try:
                    return self._conn.lookupByID(int(ident))
                except libvirt.libvirtError:
                    pass  # a domain may be *named* "42"; fall through to the name
            if UUID_RE.match(ident):
                try:
                    return self._conn.lookupByUUIDString(ident)
                except libvirt.libvirtError:
                    pass
            return self._conn.lookupByName(ident)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise NotFoundError(f"no domain {ident!r} on {self.uri}", hint="see `vmtui list`") from exc
            raise convert_error(exc, uri=self.uri, action=f"look up {ident!r}") from exc

    def domain(self, ident: str) -> DomainInfo:
        with mapped(self.uri, f"read domain {ident!r}"):
            return self.domain_info(self.lookup(ident))

    def domain_xml(self, ident: str, *, inactive: bool = False) -> str:
        """The live XML, or with `inactive` the persistent definition (what the next boot uses)."""
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        with mapped(self.uri, f"read XML of {ident!r}"):
            return str(self.lookup(ident).XMLDesc(flags))

    def lifecycle(self, ident: str, action: str) -> DomainInfo | None:
        """start, shutdown, reboot, destroy (force off), suspend (pause), resume.

        The domain's facts after the call, or None when it no longer exists: a transient domain ends
        with its run, so once destroyed there is nothing to read back (and that is the success asked for).
        """
        call = LIFECYCLE_CALLS.get(action)
        if call is None:
            raise UsageError(f"unknown action {action!r}", hint=f"one of {', '.join(LIFECYCLE_CALLS)}")
        self.require_writable(action)
        dom = self.lookup(ident)
        # Named in the error as the user knows it, even when the caller passed the UUID.
        with mapped(self.uri, f"{action} {dom.name()!r}"):
            call(dom)
            try:
                return self.domain_info(dom)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
                return None

    def define_and_start(self, xml: str) -> DomainInfo:
        """Define a persistent domain from XML (validated against libvirt's schema) and start it."""
        self.require_writable("define")
        with mapped(self.uri, "define domain"):
            dom = self._conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            try:
                dom.create()
            except libvirt.libvirtError:
                dom.undefine()  # nothing half-made is left behind
                raise
            return self.domain_info(dom)

    def destroy_and_undefine(self, ident: str) -> None:
        """Force off (if running) and remove a domain's definition; a missing domain is not an error."""
        self.require_writable("remove")
        try:
            dom = self.lookup(ident)
        except NotFoundError:
            return
        with mapped(self.uri, f"remove {ident!r}"):
            try:
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    try:
                        # Snapshot and checkpoint metadata too: a guest that was snapshotted or backed up must still go.
                        dom.undefineFlags(
                            libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                            | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                        )
                    except libvirt.libvirtError as exc:
                        # Drivers without NVRAM support (the test driver) refuse the flag itself.
                        if exc.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                            raise
                        dom.undefine()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
