"""What a guest says about itself through qemu-guest-agent, what the host saw of it (DHCP leases,
ARP), and the per-domain settings kept beside it: autostart and a managed save image.

Agent calls wait for the guest to answer (libvirt first checks with a guest-sync that times out in
about 5 s), so callers run this on a worker thread, never on the TUI's loop.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import mapped
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.errors import VmtuiError
from vmtui.models import state_name

# The resource types, the XML readers and host files are imported where guest facts are gathered:
# every command opens a Connection, and `vmtui list` must not pay for them.
if TYPE_CHECKING:
    from vmtui.drivers.resources import GuestAddress, GuestFacts

log = logging.getLogger("vmtui.drivers.libvirt.guest")

FAMILIES = {0: "ipv4", 1: "ipv6"}
HOST_SOURCES = (
    ("lease", libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, frozenset({"network"}), "no NIC on a libvirt network"),
    (
        "arp",
        libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
        frozenset({"network", "bridge", "direct", "ethernet"}),
        "no NIC the host sees on a bridge",
    ),
)
"""What the host itself saw, in the order asked when the agent gave nothing: the source, libvirt's
flag, the NIC types it can know about (a user-mode NIC is in no lease file and no ARP table, so it
is not asked, which spares a remote host an SSH round trip), and what is said when none is there."""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _addresses(raw: dict[str, Any]) -> tuple[GuestAddress, ...]:
    """libvirt's {ifname: {hwaddr, addrs: [{type, addr, prefix}]}} without loopback, sorted."""
    from vmtui.drivers.resources import GuestAddress

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


ARP_TABLE = "/proc/net/arp"
ARP_HEADER_WORDS = 9
"""`IP address HW type Flags HW address Mask Device`: the words before the first entry."""
ATF_COM = 0x2
"""An entry whose MAC is known (incomplete ones have no MAC yet)."""


def parse_arp(text: str, macs: dict[str, str]) -> tuple[GuestAddress, ...]:
    """The IPv4 addresses `/proc/net/arp` holds for `macs` (MAC -> the NIC's name), sorted.

    Read as words, six per entry, so the one-line form a remote read gives parses the same.
    """
    from vmtui.drivers.resources import GuestAddress

    words = text.split()[ARP_HEADER_WORDS:]
    out = set()
    for i in range(0, len(words) - 5, 6):
        ip, _hw_type, flags, mac = words[i : i + 4]
        try:
            complete = int(flags, 16) & ATF_COM
        except ValueError:
            continue
        if complete and mac.lower() in macs:
            out.add(GuestAddress(macs[mac.lower()], mac.lower(), "ipv4", ip, 0))
    return tuple(sorted(out, key=lambda a: (a.interface, a.address)))


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
        from vmtui.drivers.resources import GuestFacts
        from vmtui.drivers.xml.resources import AGENT_CHANNEL, agent_channel_state

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
            live_xml = dom.XMLDesc(0)
            channel = agent_channel_state(live_xml)
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
        elif self.read_only:
            # libvirt refuses agent commands on read-only connections ("operation forbidden").
            agent = "not asked"
            notes.append("guest agent not asked: libvirt lets only read-write connections talk to it")
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
            source, addresses = self._host_addresses(dom, live_xml, tried, notes)
        if source is None and all("not asked" in t for t in tried[1:]):
            notes.append("no addresses: without an agent, the host cannot see a user-mode NIC (or none)")
        elif source is None:
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

    def _host_addresses(
        self, dom: Any, live_xml: str, tried: list[str], notes: list[str]
    ) -> tuple[str | None, tuple[GuestAddress, ...]]:
        """The first of DHCP leases and ARP that knows the guest's NICs; each one asked goes into `tried`."""
        from vmtui.drivers.xml.resources import nics

        types = {n.iface_type for n in nics(live_xml)}
        for name, flag, useful, nothing in HOST_SOURCES:
            if not types & useful:
                tried.append(f"{name}: not asked ({nothing})")
                continue
            try:
                found = _addresses(dom.interfaceAddresses(flag, 0))
            except libvirt.libvirtError as exc:
                read = self._read_arp(live_xml, _message(exc), notes) if name == "arp" else None
                if read is None:
                    tried.append(f"{name}: failed")
                    if name != "arp":
                        notes.append(f"{name}: {_message(exc)}")
                    continue
                found = read
            tried.append(f"{name}: {len(found) or 'none'}")
            if found:
                return name, found
        return None, ()

    def _read_arp(self, live_xml: str, why: str, notes: list[str]) -> tuple[GuestAddress, ...] | None:
        """The host's ARP table read directly, when libvirt's own lookup fails (libvirt 9.0 cannot parse
        the netlink answer of newer kernels: "wrong nlmsg len"). None when it cannot be read either."""
        from vmtui.drivers.hostfiles import host_files
        from vmtui.drivers.xml.resources import nics

        macs = {n.mac: n.target or n.mac for n in nics(live_xml) if n.mac}
        try:
            table = host_files(self.uri).read(ARP_TABLE)
        except VmtuiError as exc:
            notes.append(f"arp: libvirt: {why}; {ARP_TABLE}: {exc}")
            return None
        if table is None:
            notes.append(f"arp: libvirt: {why}; {ARP_TABLE} unreadable")
            return None
        notes.append(f"arp: read from the host's {ARP_TABLE} (libvirt's lookup failed: {why})")
        return parse_arp(table, macs)

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
