"""Where vmtui keeps its files, and the saved-hosts file (hosts.toml).

Paths follow XDG through platformdirs. `VMTUI_HOME` moves all of them under one directory,
which is what tests and the lab use so that a user's own files are never touched.
Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from vmtui.errors import NotFoundError, UsageError, VmtuiError
from vmtui.models import HostEntry

APP = "vmtui"
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Paths:
    """The directories vmtui writes to."""

    config: Path
    state: Path
    cache: Path

    @property
    def hosts_file(self) -> Path:
        return self.config / "hosts.toml"

    @property
    def log_file(self) -> Path:
        """Tracebacks go here, never to the user's terminal."""
        return self.state / "vmtui.log"


def paths() -> Paths:
    """The current paths (read from the environment on every call, so tests can move them)."""
    home = os.environ.get("VMTUI_HOME")
    if home:
        base = Path(home)
        return Paths(config=base / "config", state=base / "state", cache=base / "cache")
    return Paths(
        config=Path(platformdirs.user_config_dir(APP)),
        state=Path(platformdirs.user_state_dir(APP)),
        cache=Path(platformdirs.user_cache_dir(APP)),
    )


def validate_host_name(name: str) -> str:
    if not HOST_NAME_RE.match(name):
        raise UsageError(
            f"invalid host name {name!r}",
            hint="use letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


class HostStore:
    """The saved hosts: `[hosts.NAME] uri = "...", read_only = false` in hosts.toml."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths().hosts_file

    def load(self) -> list[HostEntry]:
        """All saved hosts, in file order."""
        try:
            with self.path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            return []
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise VmtuiError(f"cannot read {self.path}: {exc}") from exc
        hosts = data.get("hosts", {})
        if not isinstance(hosts, dict):
            raise VmtuiError(f"{self.path}: [hosts] must be a table")
        entries = []
        for name, body in hosts.items():
            if not isinstance(body, dict) or not isinstance(body.get("uri"), str):
                raise VmtuiError(f"{self.path}: host {name!r} needs a string 'uri'")
            entries.append(HostEntry(name=name, uri=body["uri"], read_only=bool(body.get("read_only", False))))
        return entries

    def get(self, name: str) -> HostEntry:
        for entry in self.load():
            if entry.name == name:
                return entry
        raise NotFoundError(f"no saved host named {name!r}", hint="see `vmtui hosts`")

    def add(self, entry: HostEntry, *, replace: bool = False) -> None:
        """Save a host; refuses to overwrite one of the same name unless `replace`."""
        validate_host_name(entry.name)
        if not entry.uri.strip():
            raise UsageError("the URI must not be empty")
        entries = self.load()
        if not replace and any(e.name == entry.name for e in entries):
            raise UsageError(f"a host named {entry.name!r} is already saved", hint="remove it first")
        entries = [e for e in entries if e.name != entry.name] + [entry]
        self._write(entries)

    def remove(self, name: str) -> HostEntry:
        entries = self.load()
        found = [e for e in entries if e.name == name]
        if not found:
            raise NotFoundError(f"no saved host named {name!r}", hint="see `vmtui hosts`")
        self._write([e for e in entries if e.name != name])
        return found[0]

    def _write(self, entries: list[HostEntry]) -> None:
        import tomli_w  # only writers pay for it

        body = {"hosts": {e.name: {"uri": e.uri, "read_only": e.read_only} for e in entries}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename so a crash never leaves a truncated hosts file behind.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".hosts.", suffix=".toml")
        try:
            with os.fdopen(fd, "wb") as fh:
                tomli_w.dump(body, fh)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def resolve_targets(
    connect: Sequence[str] | None,
    hosts: Sequence[str] | None,
    *,
    read_only: bool = False,
    replay: Path | None = None,
) -> list[HostEntry]:
    """Which hosts a command talks to, as virsh decides it.

    -c URIs and --host names as given; with neither, every saved host; with none saved, libvirt's
    default (which honours LIBVIRT_DEFAULT_URI and uri_default). `replay`: the hosts of a recording.
    """
    if replay is not None:
        if connect or hosts:
            raise UsageError("--replay reads a recording; it cannot be combined with -c or --host")
        from vmtui.drivers.replay import replay_entries

        return replay_entries(replay)
    store = HostStore()
    targets = [HostEntry(name=uri, uri=uri, read_only=read_only) for uri in connect or ()]
    for name in hosts or ():
        entry = store.get(name)
        targets.append(HostEntry(entry.name, entry.uri, entry.read_only or read_only))
    if not targets:
        targets = [HostEntry(e.name, e.uri, e.read_only or read_only) for e in store.load()]
    if not targets:
        targets = [HostEntry(name="default", uri="", read_only=read_only)]
    if len({t.name for t in targets}) != len(targets):
        raise UsageError("the same host is named twice")
    return targets
