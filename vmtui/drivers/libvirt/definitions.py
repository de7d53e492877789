"""Persistent definitions: define from XML (validated), and undefine with what goes along with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.drivers.libvirt.connection import mapped
from vmtui.drivers.libvirt.domains import DomainsMixin
from vmtui.errors import NotFoundError, OperationError
from vmtui.models import DomainInfo

# The XML parts readers and the value types of removal are imported in the methods that use them:
# every command opens a Connection, and `vmtui list` must not pay for them (see vmtui.models).
if TYPE_CHECKING:
    from vmtui.models import DiskFile, UndefineFacts


def read_volume(conn: Any, vol: Any, offset: int, length: int) -> bytes:
    """`length` bytes of a storage volume from `offset`, through libvirt's download stream (over the
    connection itself: qemu+ssh:// needs no scp); fewer when the volume ends first."""
    stream = conn.newStream(0)
    vol.download(stream, offset, length, 0)
    parts: list[bytes] = []
    got = 0
    try:
        while got < length:
            chunk = stream.recv(min(256 * 1024, length - got))
            if not chunk:  # b"": the end of the volume
                break
            parts.append(chunk)
            got += len(chunk)
        stream.finish()
    except BaseException:
        stream.abort()
        raise
    return b"".join(parts)


class DefinitionsMixin(DomainsMixin):
    def find_domain_by_xml(self, xml: str) -> DomainInfo | None:
        """The domain a definition would replace (same UUID, else same name), or None for a new one."""
        from vmtui.drivers.xml.parts import identity

        name, uuid = identity(xml)
        for ident in (uuid, name):
            if ident:
                try:
                    return self.domain(ident)
                except NotFoundError:
                    continue
        return None

    def define_xml(self, xml: str) -> DomainInfo:
        """Define (or redefine) a persistent domain; libvirt validates it against its schema first.

        A definition libvirt refuses changes nothing: the old one stays exactly as it was.
        """
        self.require_writable("define")
        with mapped(self.uri, "define domain"):
            dom = self._conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            return self.domain_info(dom)

    def _volume(self, disk: DiskFile) -> Any | None:
        """The storage volume behind a disk, or None when no pool of this host holds it."""
        try:
            if disk.source_type == "volume":
                pool, _, name = (disk.source or "").partition("/")
                return self._conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
            return self._conn.storageVolLookupByPath(disk.source)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_STORAGE_POOL):
                return None
            raise

    def _is_seed(self, disk: DiskFile) -> bool:
        """A cloud-init NoCloud seed volume (an ISO labelled cidata, whoever made it): the VM's own, so
        removed with its storage (an installer ISO is not one: CD-ROMs are otherwise never removed)."""
        from vmtui.drivers.imagefile import PVD_OFFSET, PVD_SIZE, is_seed_label

        vol = self._volume(disk)
        if vol is None:
            return False
        try:
            return is_seed_label(read_volume(self._conn, vol, PVD_OFFSET, PVD_SIZE))
        except libvirt.libvirtError:  # too short to hold a descriptor, or unreadable: no seed of ours
            return False

    def undefine_facts(self, ident: str) -> UndefineFacts:
        """Everything undefining would take along: snapshots, managed save, NVRAM, storage volumes."""
        from vmtui.drivers.xml.parts import boot_files, nvram_path, read_disks, writable_disks
        from vmtui.models import UndefineFacts

        dom = self.lookup(ident)
        with mapped(self.uri, f"read {dom.name()}"):
            persistent = bool(dom.isPersistent())
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if persistent else 0)
            disks = read_disks(xml)
            volumes = tuple(d for d in writable_disks(disks) if self._volume(d) is not None)
            volumes += tuple(d for d in disks if d.device == "cdrom" and d.source and self._is_seed(d))
            # Its kernel and initrd when they are pool volumes (uploaded by `create`); `still_needed` keeps
            # one another domain boots from too.
            volumes += tuple(f for f in boot_files(xml) if self._volume(f) is not None)
            return UndefineFacts(
                uuid=dom.UUIDString(),
                name=dom.name(),
                active=bool(dom.isActive()),
                persistent=persistent,
                snapshots=dom.snapshotNum(0),
                managed_save=bool(dom.hasManagedSaveImage(0)),
                nvram=nvram_path(xml),
                disks=disks,
                volumes=volumes,
            )

    def undefine(
        self, ident: str, *, keep_nvram: bool = False, volumes: tuple[DiskFile, ...] = ()
    ) -> tuple[DiskFile, ...]:
        """Remove the definition with its snapshot metadata, managed save image and NVRAM (unless
        `keep_nvram`), then delete the storage `volumes`. Returns the volumes deleted.

        A running domain becomes transient (it runs on and disappears when it stops), as with virsh.
        """
        self.require_writable("undefine")
        flags = (
            libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
            | (libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM if keep_nvram else libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        )
        dom = self.lookup(ident)
        with mapped(self.uri, f"undefine {dom.name()}"):
            dom.undefineFlags(flags)
        deleted: list[DiskFile] = []
        for disk in volumes:
            path = disk.source or disk.target
            with mapped(self.uri, f"delete volume {path}"):
                vol = self._volume(disk)
                if vol is None:
                    continue  # gone already: what was asked for is true
                try:
                    vol.delete(0)
                except libvirt.libvirtError as exc:
                    before = ", ".join(d.source or d.target for d in deleted)
                    done = f"; deleted before it: {before}" if deleted else ""
                    raise OperationError(
                        f"undefined, but deleting volume {path} failed: {exc.get_error_message()}{done}"
                    ) from exc
            deleted.append(disk)
        return tuple(deleted)
