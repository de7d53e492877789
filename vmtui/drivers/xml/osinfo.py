"""The osinfo database (Debian's `osinfo-db`, /usr/share/osinfo): an OS variant's resources and virtio.

What virt-install's `--os-variant` reads, for `vmtui create --os VARIANT`: the recommended memory,
vCPUs and disk size, and whether the OS has virtio drivers (a virtio-pci device of vendor 1af4 in
its device list). An OS inherits what it does not say from the OS it derives from. The files are
parsed with the hardened parser (no entities, no DTD, no network), like XML from a host.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from vmtui.drivers.xml.read import parse_xml
from vmtui.errors import NotFoundError, UsageError

DB_DIRS = (Path("/usr/share/osinfo"), Path("/usr/local/share/osinfo"), Path("/etc/osinfo"))
"""Where libosinfo looks (system, local, admin); the first holds Debian's osinfo-db."""
VIRTIO_VENDOR = "http://pcisig.com/pci/1af4/"
_SHORT_ID = re.compile(rb"<short-id>([^<]+)</short-id>")
_OS_ID = re.compile(rb'<os id="([^"]+)"')
MAX_DERIVES = 20
"""A chain of derives-from longer than this is a loop in a damaged database."""


@dataclass(frozen=True, slots=True)
class OsVariant:
    short_id: str
    os_id: str
    """The OS's id (http://debian.org/debian/11), which virt-install records in a domain's metadata."""
    name: str
    memory_bytes: int | None
    """Recommended RAM (else the minimum); None when the database says neither."""
    vcpus: int | None
    disk_bytes: int | None
    """Recommended storage, the default of an installer's empty disk."""
    virtio: bool


def _db_dir(env_dir: str | None = None) -> Path:
    wanted = env_dir or os.environ.get("OSINFO_SYSTEM_DIR")
    for base in (Path(wanted),) if wanted else DB_DIRS:
        if (base / "os").is_dir():
            return base
    raise NotFoundError("the osinfo database is not installed (/usr/share/osinfo)", hint="apt-get install osinfo-db")


def _os_files(base: Path) -> list[Path]:
    # os/VENDOR/NAME.xml; the NAME.d/ directories beside them hold install scripts and drivers, not OSes.
    return sorted(p for p in (base / "os").glob("*/*.xml"))


class OsDatabase:
    """The database's OS files, indexed by short-id and by OS id from their raw bytes (a regex scan of
    890 small files); only the variant asked for and what it derives from are parsed."""

    def __init__(self, base: Path | None = None) -> None:
        self.base = base or _db_dir()
        self.by_short: dict[str, Path] = {}
        self.by_id: dict[str, Path] = {}
        for path in _os_files(self.base):
            data = path.read_bytes()
            for match in _OS_ID.finditer(data):
                self.by_id.setdefault(match.group(1).decode(), path)
            for match in _SHORT_ID.finditer(data):
                self.by_short.setdefault(match.group(1).decode().strip(), path)

    def _os_element(self, path: Path, *, os_id: str | None = None, short_id: str | None = None) -> etree._Element:
        root = parse_xml(path.read_bytes())
        for el in root.iter("os"):
            if os_id is not None and el.get("id") == os_id:
                return el
            if short_id is not None and short_id in [(s.text or "").strip() for s in el.findall("short-id")]:
                return el
        raise NotFoundError(f"osinfo: {os_id or short_id} not found in {path}")

    def _chain(self, first: etree._Element) -> list[etree._Element]:
        chain = [first]
        while len(chain) < MAX_DERIVES:
            parent = chain[-1].find("derives-from")
            pid = parent.get("id") if parent is not None else None
            if not pid or pid not in self.by_id:
                break
            chain.append(self._os_element(self.by_id[pid], os_id=pid))
        return chain

    def variant(self, short_id: str) -> OsVariant:
        """The variant `short_id` (debian11, win10, ...); UsageError naming the nearest ones if unknown."""
        path = self.by_short.get(short_id)
        if path is None:
            near = difflib.get_close_matches(short_id, list(self.by_short), n=5, cutoff=0.6)
            hint = f"did you mean {', '.join(near)}?" if near else "see `osinfo-query os` for the short ids"
            raise UsageError(f"--os {short_id!r} is not in the osinfo database", hint=hint)
        chain = self._chain(self._os_element(path, short_id=short_id))
        return OsVariant(
            short_id=short_id,
            os_id=chain[0].get("id") or "",
            name=(chain[0].findtext("name") or short_id).strip(),
            memory_bytes=_resource(chain, "ram"),
            vcpus=_resource(chain, "n-cpus"),
            disk_bytes=_resource(chain, "storage", levels=("recommended",)),
            virtio=any(
                (d.get("id") or "").startswith(VIRTIO_VENDOR) for el in chain for d in el.iterfind("devices/device")
            ),
        )


def _resource(
    chain: list[etree._Element], what: str, levels: tuple[str, ...] = ("recommended", "minimum")
) -> int | None:
    """The nearest OS's figure for `what` (an OS's own minimum outranks an older one's recommendation):
    recommended before minimum, x86_64 before all."""
    for el in chain:
        for level in levels:
            for arch in ("x86_64", "all"):
                text = el.findtext(f"resources[@arch='{arch}']/{level}/{what}")
                if text and text.strip().isdigit():
                    return int(text.strip())
    return None
