"""Where backups live: a directory tree on the domain's host, and the qemu-img calls that join its files.

libvirt writes the backup files itself (on the host, as its daemon); everything else a backup needs on
the host is here: free space, the manifest files, moving a finished backup into place, removing a
partial one, checksums, and qemu-img to link an incremental onto its parent and to rebuild a disk from
a chain. Only a local host (`qemu:///system`) has a store so far: over SSH the same steps would run as
fixed scripts like `hostfiles.SshFiles` does, which is not built yet.

Programs run with argument lists, never through a shell: paths from users and hosts go in literally.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from vmtui.drivers.uri import is_local
from vmtui.errors import OperationError, UsageError

QEMU_IMG_TIMEOUT = 6 * 3600.0
"""A convert of a large disk takes as long as its data takes to copy; a hung one must end some day."""
MANIFEST = "manifest.json"


class LocalBackupStore:
    """The backup tree on this machine."""

    label = "localhost"

    def free_bytes(self, path: str) -> int:
        """Bytes free for an unprivileged-or-root writer where `path` is (or would be) created."""
        probe = Path(path)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        st = os.statvfs(probe)
        return st.f_bavail * st.f_frsize

    def make_dir(self, path: str) -> bool:
        """Create the directory (and its parents); False when it exists already (another writer's)."""
        try:
            Path(path).mkdir(mode=0o755, parents=True, exist_ok=False)
        except FileExistsError:
            return False
        except OSError as exc:
            raise OperationError(f"cannot create {path} on {self.label}: {exc.strerror}") from exc
        # 0755: QEMU (another user under libvirt's dynamic ownership) must reach the files libvirt makes here.
        os.chmod(path, 0o755)
        return True

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def manifests(self, root: str) -> list[tuple[str, str]]:
        """(backup directory, manifest text) of every finished backup under root/DOMAIN/ID/."""
        base = Path(root)
        if not base.is_dir():
            return []
        out = []
        for manifest in sorted(base.glob(f"*/*/{MANIFEST}")):
            try:
                out.append((str(manifest.parent), manifest.read_text()))
            except OSError:
                continue  # removed since the listing
        return out

    def write_text(self, path: str, text: str) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        tmp = Path(path + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def rename(self, old: str, new: str) -> None:
        os.replace(old, new)

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def remove_file(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def allocated_bytes(self, path: str) -> int:
        """Bytes the file takes on the host's disk (a sparse qcow2 takes less than it seems)."""
        return os.stat(path).st_blocks * 512

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _qemu_img(self, *args: str) -> str:
        try:
            proc = subprocess.run(
                ["qemu-img", *args], capture_output=True, text=True, timeout=QEMU_IMG_TIMEOUT, check=False
            )
        except OSError as exc:
            raise OperationError(f"qemu-img on {self.label}: {exc.strerror}", hint="install qemu-utils") from exc
        if proc.returncode != 0:
            said = " ".join(proc.stderr.split()) or f"exit {proc.returncode}"
            raise OperationError(f"qemu-img {args[0]} on {self.label}: {said}")
        return proc.stdout

    def link_to_parent(self, path: str, parent_relative: str) -> None:
        """Make an incremental's qcow2 read through to its parent's file (metadata only, no data moved).

        Relative, so a backup tree moved or copied elsewhere as a whole keeps its chains."""
        self._qemu_img("rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", parent_relative, path)

    def backing_chain(self, path: str) -> list[str]:
        """The files qemu-img reads for `path`, itself first; fails when a link is missing."""
        text = self._qemu_img("info", "--backing-chain", "--output=json", "-U", path)
        return [str(image["filename"]) for image in json.loads(text)]

    def rebuild(self, top: str, dest: str) -> None:
        """One standalone qcow2 at `dest` with what `top` and its chain hold (written beside, then renamed)."""
        partial = dest + ".partial"
        try:
            self._qemu_img("convert", "-f", "qcow2", "-O", "qcow2", top, partial)
            os.chmod(partial, 0o600)
            os.replace(partial, dest)
        finally:
            Path(partial).unlink(missing_ok=True)


def backup_store(uri: str) -> LocalBackupStore:
    """The store of the host `uri` names; refused before any change for a host reached over the network."""
    if not is_local(uri):
        raise UsageError(
            f"backups of domains on {uri} are not supported yet: only the local host's",
            hint="run vmtui on that host itself (`vmtui backup DOMAIN` there, over ssh)",
        )
    return LocalBackupStore()
