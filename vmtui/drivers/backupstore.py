"""Where backups live: a directory tree on the domain's host, and the qemu-img calls that join its files.

libvirt writes the backup files itself (on the host, as its daemon); everything else a backup needs on
the host is here: free space, the manifest files, moving a finished backup into place, removing a
partial one, checksums, and qemu-img to link an incremental onto its parent and to rebuild a disk from
a chain: on this machine for a local URI, and over the URI's own SSH (as `hostfiles.SshFiles`) for
a `qemu+ssh://` one.

Locally, programs run with argument lists, never through a shell. Over SSH each step is one fixed
script whose every path is checked against `hostfiles.SAFE_PATH` and quoted: nothing a host or a user
typed is interpreted by the remote shell.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from vmtui.drivers.hostfiles import check_path, ssh_argv
from vmtui.drivers.uri import is_local, is_ssh
from vmtui.errors import ConnectError, OperationError, UsageError

QEMU_IMG_TIMEOUT = 6 * 3600.0
"""A convert of a large disk takes as long as its data takes to copy; a hung one must end some day."""
MANIFEST = "manifest.json"
HASH_BUFFER = 4 * 1024 * 1024
"""One buffer, filled in place and hashed without a copy: a backup's files are read at page-cache speed."""


class BackupStore(ABC):
    """The backup tree on one host."""

    label: str

    @abstractmethod
    def free_bytes(self, path: str) -> int:
        """Bytes free where `path` is (or would be) created."""

    @abstractmethod
    def make_dir(self, path: str) -> bool:
        """Create the directory (and its parents); False when it exists already (another writer's)."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def manifests(self, root: str) -> list[tuple[str, str]]:
        """(backup directory, manifest text) of every finished backup under root/DOMAIN/ID/."""

    @abstractmethod
    def write_text(self, path: str, text: str) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""

    @abstractmethod
    def rename(self, old: str, new: str) -> None: ...

    @abstractmethod
    def remove_tree(self, path: str) -> None: ...

    @abstractmethod
    def remove_file(self, path: str) -> None: ...

    @abstractmethod
    def allocated_bytes(self, path: str) -> int:
        """Bytes the file takes on the host's disk (a sparse qcow2 takes less than it seems)."""

    @abstractmethod
    def sha256(self, path: str) -> str: ...

    def sha256_many(self, paths: Sequence[str]) -> dict[str, str]:
        """The sha256 of each file, all at once: one thread per file (up to the cores here). The hashing
        runs outside Python's lock (or in the host's own process), so a domain's disks hash side by side
        instead of one after the other."""
        if not paths:
            return {}
        with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1)) as workers:
            return dict(zip(paths, workers.map(self.sha256, paths), strict=True))

    @abstractmethod
    def link_to_parent(self, path: str, parent_relative: str) -> None:
        """Make an incremental's qcow2 read through to its parent's file (metadata only, no data moved).

        Relative, so a backup tree moved or copied elsewhere as a whole keeps its chains."""

    @abstractmethod
    def rebuild(self, top: str, dest: str, *, into_volume: bool = False) -> None:
        """One standalone qcow2 at `dest` with what `top` and its chain hold: written beside, then renamed;
        `into_volume`, written into the qcow2 volume libvirt made at `dest` (as large as the disk)."""

    @abstractmethod
    def virtual_size(self, path: str) -> int:
        """The size of the disk a qcow2 file holds, as its guest sees it."""


class LocalBackupStore(BackupStore):
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
        buffer = bytearray(HASH_BUFFER)
        view = memoryview(buffer)
        with open(path, "rb", buffering=0) as fh:
            while filled := fh.readinto(buffer):
                digest.update(view[:filled])
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

    def rebuild(self, top: str, dest: str, *, into_volume: bool = False) -> None:
        """One standalone qcow2 at `dest` with what `top` and its chain hold: written beside, then renamed;
        `into_volume`, written into the qcow2 volume libvirt made at `dest` (as large as the disk)."""
        if into_volume:
            self._qemu_img("convert", "-n", "-f", "qcow2", "-O", "qcow2", top, dest)
            return
        partial = dest + ".partial"
        try:
            self._qemu_img("convert", "-f", "qcow2", "-O", "qcow2", top, partial)
            os.chmod(partial, 0o600)
            os.replace(partial, dest)
        finally:
            Path(partial).unlink(missing_ok=True)

    def virtual_size(self, path: str) -> int:
        return _virtual_size(self._qemu_img("info", "-U", "--output=json", "-f", "qcow2", path), path, self.label)


def _virtual_size(info_json: str, path: str, label: str) -> int:
    try:
        return int(json.loads(info_json)["virtual-size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise OperationError(f"qemu-img info {path} on {label}: unreadable answer ({exc})") from exc


class SshBackupStore(BackupStore):
    """The backup tree of a remote host, through the ssh of its libvirt URI."""

    def __init__(self, argv: list[str], label: str) -> None:
        self.argv = argv
        self.label = label

    def _run(self, script: str, *, stdin: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                [*self.argv, script], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ConnectError(f"ssh to {self.label}: no answer within {timeout:g} s") from exc
        except OSError as exc:
            raise ConnectError(f"ssh to {self.label}: cannot run {self.argv[0]}: {exc.strerror}") from exc
        if proc.returncode == 255:
            said = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "ssh failed"
            raise ConnectError(f"ssh to {self.label}: {said}")
        return proc

    def _check(self, proc: subprocess.CompletedProcess[str], what: str) -> str:
        if proc.returncode != 0:
            said = " ".join(proc.stderr.split()) or f"exit {proc.returncode}"
            raise OperationError(f"{what} on {self.label}: {said}")
        return proc.stdout

    @staticmethod
    def _q(path: str) -> str:
        return shlex.quote(check_path(path))

    def free_bytes(self, path: str) -> int:
        script = (
            f'p={self._q(path)}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; '
            "df -P -B1 \"$p\" | tail -n 1 | awk '{print $4}'"
        )
        out = self._check(self._run(script), f"free space at {path}").strip()
        if not out.isdigit():
            raise OperationError(f"free space at {path} on {self.label}: df said {out!r}")
        return int(out)

    def make_dir(self, path: str) -> bool:
        q = self._q(path)
        proc = self._run(f"[ -e {q} ] && exit 3; mkdir -p {q} && chmod 0755 {q}")
        if proc.returncode == 3:
            return False
        self._check(proc, f"create {path}")
        return True

    def exists(self, path: str) -> bool:
        return self._run(f"test -e {self._q(path)}").returncode == 0

    def manifests(self, root: str) -> list[tuple[str, str]]:
        # One round trip: "path NUL contents NUL" for each manifest (JSON holds no NUL).
        script = (
            f'for f in {self._q(root)}/*/*/{MANIFEST}; do [ -f "$f" ] || continue; '
            "printf '%s\\0' \"$f\"; cat \"$f\"; printf '\\0'; done; true"
        )
        parts = self._check(self._run(script), f"read backups in {root}").split("\0")
        return [(posixpath.dirname(parts[i]), parts[i + 1]) for i in range(0, len(parts) - 1, 2)]

    def write_text(self, path: str, text: str) -> None:
        q, tmp = self._q(path), self._q(path + ".tmp")
        self._check(self._run(f"cat > {tmp} && sync {tmp} && mv -f {tmp} {q}", stdin=text), f"write {path}")

    def rename(self, old: str, new: str) -> None:
        self._check(self._run(f"mv -T {self._q(old)} {self._q(new)}"), f"rename {old}")

    def remove_tree(self, path: str) -> None:
        self._check(self._run(f"rm -rf -- {self._q(path)}"), f"remove {path}")

    def remove_file(self, path: str) -> None:
        self._check(self._run(f"rm -f -- {self._q(path)}"), f"remove {path}")

    def allocated_bytes(self, path: str) -> int:
        out = self._check(self._run(f"stat -c '%b %B' {self._q(path)}"), f"size of {path}").split()
        return int(out[0]) * int(out[1])

    def sha256(self, path: str) -> str:
        # openssl's sha256 uses the CPU's SHA instructions: ~5x faster than coreutils' sha256sum here.
        # Both print "HASH <space-or-*>PATH".
        q = self._q(path)
        script = f"if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r {q}; else sha256sum {q}; fi"
        out = self._check(self._run(script, timeout=QEMU_IMG_TIMEOUT), f"checksum of {path}")
        return out.split()[0]

    def link_to_parent(self, path: str, parent_relative: str) -> None:
        if not re.fullmatch(r"\.\./[A-Za-z0-9_.:+-]+/[A-Za-z0-9_.:+-]+", parent_relative):
            raise UsageError(f"refusing backing link {parent_relative!r}")
        script = f"qemu-img rebase -u -f qcow2 -F qcow2 -b {shlex.quote(parent_relative)} {self._q(path)}"
        self._check(self._run(script), "qemu-img rebase")

    def rebuild(self, top: str, dest: str, *, into_volume: bool = False) -> None:
        t, d, partial = self._q(top), self._q(dest), self._q(dest + ".partial")
        if into_volume:
            self._check(
                self._run(f"qemu-img convert -n -f qcow2 -O qcow2 {t} {d}", timeout=QEMU_IMG_TIMEOUT),
                "qemu-img convert",
            )
            return
        script = (
            f"qemu-img convert -f qcow2 -O qcow2 {t} {partial} && chmod 0600 {partial} && mv -f {partial} {d}"
            f" || {{ rc=$?; rm -f {partial}; exit $rc; }}"
        )
        self._check(self._run(script, timeout=QEMU_IMG_TIMEOUT), "qemu-img convert")

    def virtual_size(self, path: str) -> int:
        out = self._check(self._run(f"qemu-img info -U --output=json -f qcow2 {self._q(path)}"), "qemu-img info")
        return _virtual_size(out, path, self.label)


def backup_store(uri: str) -> BackupStore:
    """The store of the host `uri` names: this machine's, or over the URI's SSH; refused otherwise."""
    if is_local(uri):
        return LocalBackupStore()
    if is_ssh(uri):
        return SshBackupStore(ssh_argv(uri), urlsplit(uri).hostname or uri)
    raise UsageError(
        f"backups of domains on {uri}: the host is reached neither locally nor over SSH",
        hint="use a qemu+ssh:// URI for that host, or run vmtui on it",
    )
