"""A host's own files, for what libvirt does not expose: KSM `run`, `sriov_numvfs`, the kernel, EPT/NPT.

One way in for every host: `host_files(uri)` gives the local filesystem for a local URI, and for a
`qemu+ssh://` (or libssh/libssh2) URI the same SSH the URI itself uses: its user, host, port, key,
ssh command and known_hosts. Host keys are verified as the user's ssh configuration says (vmtui never
turns checking off). Remote commands are fixed scripts with every path and value validated against a
strict pattern and quoted: nothing a host or a user typed is ever interpreted by a shell.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from vmtui.drivers.uri import is_local, is_ssh
from vmtui.errors import ConnectError, DeniedError, OperationError, UsageError

SAFE_PATH = re.compile(r"^/(?:[A-Za-z0-9_.:+-]+/)*[A-Za-z0-9_.:+-]+$")
"""Absolute sysfs/procfs-style paths only: no spaces, quotes, globs or `..` components."""
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SSH_TIMEOUT = 15.0


def check_path(path: str) -> str:
    if not SAFE_PATH.match(path) or "/../" in f"{path}/" or "/./" in f"{path}/":
        raise UsageError(f"refusing host path {path!r}: only plain absolute paths are read or written")
    return path


def check_value(value: str) -> str:
    if not SAFE_VALUE.match(value):
        raise UsageError(f"refusing value {value!r} for a host file: letters, digits and _.:- only")
    return value


BOOT_ID = "/proc/sys/kernel/random/boot_id"
"""One kernel's boot: two hosts with the same one are one machine (containers, namespaces, the lab)."""


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What tells one file from another across hosts: one kernel's device and inode, or a shared
    filesystem's inode (NFS hands every client the server's file id), size and modification time."""

    boot_id: str
    device: int
    inode: int
    size: int
    mtime: int

    def same_file(self, other: FileIdentity) -> bool:
        if self.boot_id == other.boot_id:
            return (self.device, self.inode) == (other.device, other.inode)
        # Another machine: its device numbers are its own; a file that another host mounts keeps its id.
        return (self.inode, self.size) == (other.inode, other.size) and abs(self.mtime - other.mtime) <= 2


class HostFiles(ABC):
    """Read and write small files (sysfs knobs) on one host."""

    label: str

    @abstractmethod
    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Each path's contents; "" for a directory that exists, None when missing or unreadable."""

    @abstractmethod
    def write(self, path: str, value: str) -> None:
        """Write `value` into `path`; DeniedError when the host refuses it (not root)."""

    def read(self, path: str) -> str | None:
        return self.read_many([path])[path]

    @abstractmethod
    def pids_of(self, comm: str) -> list[int]:
        """PIDs of the host's processes whose name (`/proc/PID/comm`) is `comm` (ksmd, ksmtuned)."""

    @abstractmethod
    def identities(self, paths: Sequence[str]) -> dict[str, FileIdentity | None]:
        """Each path's identity on this host (symlinks followed), None where there is no such file."""

    def write_command(self, path: str, value: str) -> str:
        """The command a user would run on the host to make the same change."""
        return f"echo {shlex.quote(value)} > {shlex.quote(path)}"


class LocalFiles(HostFiles):
    """This machine's files, optionally under another root (tests point it at a temporary tree)."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root
        self.label = "localhost"

    def _local(self, path: str) -> Path:
        return self.root / check_path(path).lstrip("/")

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for path in paths:
            local = self._local(path)
            try:
                out[path] = "" if local.is_dir() else local.read_text().strip()
            except OSError:
                out[path] = None
        return out

    def write(self, path: str, value: str) -> None:
        local = self._local(path)
        try:
            local.write_text(check_value(value) + "\n")
        except PermissionError as exc:
            raise DeniedError(
                f"writing {path} requires root on {self.label}", hint=f"as root: {self.write_command(path, value)}"
            ) from exc
        except OSError as exc:
            raise OperationError(f"writing {value} to {path} on {self.label}: {exc.strerror}") from exc

    def pids_of(self, comm: str) -> list[int]:
        check_value(comm)
        proc = self.root / "proc"
        found = []
        for entry in proc.glob("[0-9]*"):
            try:
                if (entry / "comm").read_text().strip() == comm:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue  # gone since the listing, or not a process
        return sorted(found)

    def identities(self, paths: Sequence[str]) -> dict[str, FileIdentity | None]:
        boot = self.read(BOOT_ID) or ""
        out: dict[str, FileIdentity | None] = {}
        for path in paths:
            try:
                st = self._local(path).stat()
            except OSError:
                out[path] = None
                continue
            out[path] = FileIdentity(boot, st.st_dev, st.st_ino, st.st_size, int(st.st_mtime))
        return out


class SshFiles(HostFiles):
    """A remote host's files through the ssh of its own libvirt URI."""

    def __init__(self, argv: list[str], label: str) -> None:
        self.argv = argv
        """ssh and its options up to and including the destination; the remote command follows."""
        self.label = label

    def _run(self, script: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [*self.argv, script], capture_output=True, text=True, timeout=SSH_TIMEOUT, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise ConnectError(f"ssh to {self.label}: no answer within {SSH_TIMEOUT:g} s") from exc
        except OSError as exc:
            raise ConnectError(f"ssh to {self.label}: cannot run {self.argv[0]}: {exc.strerror}") from exc

    def _ssh_failed(self, proc: subprocess.CompletedProcess[str]) -> None:
        # 255 is ssh's own failure (connect, auth, host key); anything else came from the remote command.
        if proc.returncode == 255:
            text = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "ssh failed"
            if "host key verification failed" in proc.stderr.lower():
                raise DeniedError(
                    f"{self.label}: SSH host key verification failed",
                    hint="the host's key is unknown or has changed; verify it out of band and fix known_hosts",
                )
            raise ConnectError(f"ssh to {self.label}: {text}")

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        quoted = " ".join(shlex.quote(check_path(p)) for p in paths)
        # One round trip: "<path>\t<contents on one line>" for each file that exists.
        script = (
            f"for p in {quoted}; do "
            'if [ -d "$p" ]; then printf "%s\\t\\n" "$p"; '
            'elif [ -r "$p" ]; then printf "%s\\t" "$p"; tr "\\n" " " < "$p"; echo; fi; done'
        )
        proc = self._run(script)
        self._ssh_failed(proc)
        out: dict[str, str | None] = dict.fromkeys(paths)
        for line in proc.stdout.splitlines():
            path, sep, value = line.partition("\t")
            if sep and path in out:
                out[path] = value.strip()
        return out

    def write(self, path: str, value: str) -> None:
        script = f"printf '%s\\n' {shlex.quote(check_value(value))} > {shlex.quote(check_path(path))}"
        proc = self._run(script)
        self._ssh_failed(proc)
        if proc.returncode != 0:
            err = proc.stderr.strip() or f"exit {proc.returncode}"
            if "permission denied" in err.lower() or "read-only file system" in err.lower():
                raise DeniedError(
                    f"writing {path} requires root on {self.label}",
                    hint=f"as root there: {self.write_command(path, value)}",
                )
            raise OperationError(f"writing {value} to {path} on {self.label}: {err}")

    def pids_of(self, comm: str) -> list[int]:
        script = (
            f"for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null); "
            f'[ "$c" = {shlex.quote(check_value(comm))} ] && echo "${{p#/proc/}}"; done; true'
        )
        proc = self._run(script)
        self._ssh_failed(proc)
        return sorted(int(line) for line in proc.stdout.split() if line.isdigit())

    def identities(self, paths: Sequence[str]) -> dict[str, FileIdentity | None]:
        quoted = " ".join(shlex.quote(check_path(p)) for p in paths)
        # One round trip: the boot id, then "<path>\t<dev> <inode> <size> <mtime>" for each file there.
        script = f"cat {BOOT_ID}; for p in {quoted}; do s=$(stat -L -c '%d %i %s %Y' \"$p\" 2>/dev/null) && " \
            'printf "%s\t%s\n" "$p" "$s"; done; true'  # fmt: skip
        proc = self._run(script)
        self._ssh_failed(proc)
        lines = proc.stdout.splitlines()
        boot = lines[0].strip() if lines else ""
        out: dict[str, FileIdentity | None] = dict.fromkeys(paths)
        for line in lines[1:]:
            path, sep, value = line.partition("\t")
            numbers = value.split()
            if sep and path in out and len(numbers) == 4 and all(n.isdigit() for n in numbers):
                dev, ino, size, mtime = (int(n) for n in numbers)
                out[path] = FileIdentity(boot, dev, ino, size, mtime)
        return out


def ssh_argv(uri: str) -> list[str]:
    """The ssh command line that reaches the host of an SSH libvirt URI, as libvirt itself would.

    The URI's `command=` (an ssh wrapper), `keyfile=` and `known_hosts=` are honoured; batch mode so
    that ssh never prompts; no option ever weakens host key checking.
    """
    parts = urlsplit(uri)
    host = parts.hostname
    if not host or host.startswith("-"):
        raise UsageError(f"{uri}: no host to reach over SSH")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    argv = [unquote(query.get("command", "ssh")), "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if parts.port:
        argv += ["-p", str(parts.port)]
    if parts.username:
        argv += ["-l", unquote(parts.username)]
    if "keyfile" in query:
        argv += ["-i", unquote(query["keyfile"])]
    if "known_hosts" in query:
        argv += ["-o", f"UserKnownHostsFile={unquote(query['known_hosts'])}"]
    return [*argv, "--", host]


def host_files(uri: str, *, local_root: Path | None = None) -> HostFiles:
    """The files of the host behind `uri`: local, or over that URI's SSH.

    `VMTUI_SYSFS_ROOT` (or `local_root`) moves the local root, for a host whose /sys is mounted
    elsewhere (containers) and for tests that point it at a temporary tree.
    """
    if is_local(uri):
        root = local_root or Path(os.environ.get("VMTUI_SYSFS_ROOT", "/"))
        return LocalFiles(root)
    if is_ssh(uri):
        return SshFiles(ssh_argv(uri), urlsplit(uri).hostname or uri)
    raise UsageError(
        f"{uri}: host files are reached over SSH, and this URI is not an SSH one",
        hint="use a qemu+ssh:// URI for this host (or run vmtui on the host itself)",
    )
