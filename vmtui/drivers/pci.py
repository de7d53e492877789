"""PCI addresses as users write them (0000:03:10.1), as libvirt's XML writes them, and as node devices name them.

Pure: a value type with its three spellings, validated on the way in, so an address that reaches
an XML attribute or a sysfs path is always four bounded numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from vmtui.errors import UsageError

_TEXT = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,4}):)?(?P<bus>[0-9a-fA-F]{1,2}):(?P<slot>[0-9a-fA-F]{1,2})\.(?P<function>[0-7])$"
)
_NODEDEV = re.compile(r"^pci_([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$")


@dataclass(frozen=True, slots=True, order=True)
class PciAddress:
    """One PCI function: domain, bus, slot (device) and function numbers."""

    domain: int
    bus: int
    slot: int
    function: int

    def __post_init__(self) -> None:
        limits = (("domain", self.domain, 0xFFFF), ("bus", self.bus, 0xFF), ("slot", self.slot, 0x1F))
        for what, value, high in (*limits, ("function", self.function, 7)):
            if not 0 <= value <= high:
                raise UsageError(f"PCI {what} {value:#x} is out of range (0..{high:#x})")

    @classmethod
    def parse(cls, text: str) -> PciAddress:
        """`0000:03:10.1`, `03:10.1` (domain 0) or a node device name `pci_0000_03_10_1`."""
        text = text.strip()
        node = _NODEDEV.match(text)
        if node:
            return cls(*(int(part, 16) for part in node.groups()))
        m = _TEXT.match(text)
        if m is None:
            raise UsageError(f"{text!r} is not a PCI address", hint="write it as 0000:03:10.1 (as lspci -D shows it)")
        return cls(int(m["domain"] or "0", 16), int(m["bus"], 16), int(m["slot"], 16), int(m["function"], 16))

    @classmethod
    def from_element(cls, el: etree._Element) -> PciAddress | None:
        """From an `<address domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>`; None if incomplete or odd."""
        try:
            return cls(*(_number(el.get(attr, "0" if attr == "domain" else "")) for attr in _ATTRS))
        except (ValueError, UsageError):
            return None

    def attrs(self) -> dict[str, str]:
        """The attributes of libvirt's `<address type='pci' .../>`."""
        return {
            "domain": f"0x{self.domain:04x}",
            "bus": f"0x{self.bus:02x}",
            "slot": f"0x{self.slot:02x}",
            "function": f"0x{self.function:x}",
        }

    @property
    def nodedev(self) -> str:
        """libvirt's node device name for it (`virsh nodedev-dumpxml pci_0000_03_10_1`)."""
        return f"pci_{self.domain:04x}_{self.bus:02x}_{self.slot:02x}_{self.function:x}"

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"


_ATTRS = ("domain", "bus", "slot", "function")


def _number(text: str) -> int:
    """libvirt writes `0x03`; people and older XML write `3`: both mean the same number."""
    text = text.strip().lower()
    return int(text, 16) if text.startswith("0x") else int(text, 10)
