"""What a guest says about itself through qemu-guest-agent, what the host saw of it (DHCP leases,
ARP), and the per-domain settings kept beside it: autostart and a managed save image.

Agent calls wait for the guest to answer (libvirt first checks with a guest-sync that times out in
about 5 s), so callers run this on a worker thread, never on the TUI's loop.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import libvirt

from vmtui.drivers.connection import mapped
from vmtui.drivers.domains import DomainsMixin
from vmtui.drivers.resources import GuestAddress, GuestFacts
from vmtui.drivers.xmlres import AGENT_CHANNEL, agent_channel_state
from vmtui.models import state_name

log = logging.getLogger("vmtui.drivers.guest")

FAMILIES = {0: "ipv4", 1: "ipv6"}
HOST_SOURCES = (
    ("lease", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE),
    ("arp", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP),
)
"""What the host itself saw, in the order asked when the agent gave nothing."""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _addresses(raw: dict[str, Any]) -> tuple[GuestAddress, ...]:
    """libvirt's {ifname: {hwaddr, addrs: [{type, addr, prefix}]}} without loopback, sorted."""
    out = []
    for ifname, body in (raw or {}).items():
        for addr in (body or {}).get("addrs") or []:
            address = str(addr.get("addr") or "")
            if not address or _is_loopback(address):
                continue
            out.append(
                GuestAddress(
                    interface=str(ifname),
                    mac=str(body.get("hwaddr") or "").lower(),
                    family=FAMILIES.get(int(addr.get("type") or 0), "ipv4"),
                    address=address,
                    prefix=int(addr.get("prefix") or 0),
                )
            )
    return tuple(sorted(out, key=lambda a: (a.interface, a.family, a.address)))


def _message(exc: libvirt.libvirtError) -> str:
    return " ".join((exc.get_error_message() or str(exc)).split())


class GuestMixin(DomainsMixin):
    def domain_autostart(self, ident: str) -> bool | None:
        """Whether the host starts the domain when it boots; None for a transient domain."""
        with mapped(self.uri, f"read autostart of {ident!r}"):
            dom = self.lookup(ident)
            return bool(dom.autostart()) if dom.isPersistent() else None

    def set_domain_autostart(self, ident: str, on: bool) -> bool:
        self.require_writable("autostart")
        with mapped(self.uri, f"autostart of {ident!r}"):
            dom = self.lookup(ident)
            dom.setAutostart(1 if on else 0)
            return bool(dom.autostart())

    def has_managed_save(self, ident: str) -> bool:
        with mapped(self.uri, f"read saved state of {ident!r}"):
            return bool(self.lookup(ident).hasManagedSaveImage(0))

    def guest_facts(self, ident: str) -> GuestFacts:
        """Addresses (agent, else DHCP lease, else ARP, naming the source), OS and hostname (agent)."""
        with mapped(self.uri, f"guest facts of {ident!r}"):
            dom = self.lookup(ident)
            state = state_name(dom.state()[0])
            persistent = bool(dom.isPersistent())
            autostart = bool(dom.autostart()) if persistent else None
            saved = bool(dom.hasManagedSaveImage(0)) if persistent else False
            if not dom.isActive():
                note = "not running: no agent and no addresses"
                if saved:
                    note += "; a saved state exists, and starting restores it"
                return GuestFacts(state, "off", None, autostart=autostart, managed_save=saved, notes=(note,))
            channel = agent_channel_state(dom.XMLDesc(0))
        notes: list[str] = []
        tried: list[str] = []
        facts: dict[str, str | None] = {}
        addresses: tuple[GuestAddress, ...] = ()
        source: str | None = None
        if channel is None:
            agent = "absent"
            notes.append(f"no guest agent: the domain has no {AGENT_CHANNEL} channel")
        elif channel == "disconnected":
            agent = "disconnected"
            notes.append("no guest agent answers on its channel (is qemu-guest-agent running in the guest?)")
        else:
            agent = "connected"
            try:
                addresses = _addresses(dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0))
            except libvirt.libvirtError as exc:
                agent = "unusable"
                notes.append(f"guest agent: {_message(exc)}")
            else:
                facts = self._agent_info(dom, notes)
        tried.append(f"agent: {len(addresses) or 'none'}" if agent == "connected" else f"agent: {agent}")
        if addresses:
            source = "agent"
        else:
            for name, flag in HOST_SOURCES:
                try:
                    found = _addresses(dom.interfaceAddresses(flag, 0))
                except libvirt.libvirtError as exc:
                    tried.append(f"{name}: failed")
                    notes.append(f"{name}: {_message(exc)}")
                    continue
                tried.append(f"{name}: {len(found) or 'none'}")
                if found:
                    source, addresses = name, found
                    break
        if source is None:
            notes.append("no addresses: no agent reported any, no DHCP lease and no ARP entry for the guest's MACs")
        return GuestFacts(
            state=state,
            agent=agent,
            address_source=source,
            addresses=addresses,
            tried=tuple(tried),
            os_name=facts.get("os"),
            os_id=facts.get("os_id"),
            kernel=facts.get("kernel"),
            hostname=facts.get("hostname"),
            autostart=autostart,
            managed_save=saved,
            notes=tuple(notes),
        )

    def _agent_info(self, dom: Any, notes: list[str]) -> dict[str, str | None]:
        """OS and hostname from the agent; an agent too old for guest-get-osinfo still gives addresses."""
        try:
            info = dom.guestInfo(libvirt.VIR_DOMAIN_GUEST_INFO_OS | libvirt.VIR_DOMAIN_GUEST_INFO_HOSTNAME, 0)
        except libvirt.libvirtError as exc:
            notes.append(f"guest agent OS/hostname: {_message(exc)}")
            return {}

        def get(key: str) -> str | None:
            value = info.get(key)
            return str(value) if value not in (None, "") else None

        return {
            "os": get("os.pretty-name") or get("os.name"),
            "os_id": get("os.id"),
            "kernel": get("os.kernel-release"),
            "hostname": get("hostname"),
        }
