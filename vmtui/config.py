"""Where vmtui keeps its files, and the saved-hosts file (hosts.toml).

Paths follow XDG through platformdirs. `VMTUI_HOME` moves all of them under one directory,
which is what tests and the lab use so that a user's own files are never touched.
Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from vmtui.drivers.uri import validate_uri
from vmtui.errors import NotFoundError, UsageError
from vmtui.models import HostEntry
from vmtui.settings.lines import key_line, top_level_line

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
        """The saved hosts (`HostStore`)."""
        return self.config / "hosts.toml"

    @property
    def config_file(self) -> Path:
        """How vmtui behaves: aliases, keys, plugins, thresholds (`vmtui.settings`)."""
        return self.config / "config.toml"

    @property
    def log_file(self) -> Path:
        """Tracebacks go here, never to the user's terminal."""
        return self.state / "vmtui.log"


def paths() -> Paths:
    """The current paths (read from the environment on every call, so tests can move them)."""
    home = os.environ.get("VMTUI_HOME")
    if home:
        base = Path(home).absolute()
        if base.exists() and not base.is_dir():
            raise ConfigError(f"VMTUI_HOME={home} is not a directory", hint="point it at a directory (made if missing)")
        return Paths(config=base / "config", state=base / "state", cache=base / "cache")
    import platformdirs  # here, not at the top: start-up pays for what each command uses

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
    """The saved hosts: `[hosts.NAME] uri = "...", read_only = false` (and `maintenance = true` while a
    host is drained, `colour = "red"` to tell it apart) in hosts.toml, and nothing else: how vmtui behaves
    is config.toml's (`vmtui.settings`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths().hosts_file

    def load(self) -> list[HostEntry]:
        """All saved hosts, in file order; a file that is not exactly right is refused, naming where.

        A typo must never change what vmtui does: `readonly = true` would otherwise open a host
        read-write that its owner meant to be read-only.
        """
        text, data = self._read()
        return _entries(self.path, text, data)

    def _read(self) -> tuple[str, dict[str, object]]:
        """The file's text and its TOML (empty when there is no file)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return "", {}
        except IsADirectoryError as exc:
            raise ConfigError(f"{self.path} is a directory, not a hosts file") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{self.path} is not UTF-8 text (a TOML file is expected)") from exc
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.path}: not valid TOML: {exc}") from exc
        return text, data

    def get(self, name: str) -> HostEntry:
        for entry in self.load():
            if entry.name == name:
                return entry
        raise NotFoundError(f"no saved host named {name!r}", hint="see `vmtui hosts`")

    def add(self, entry: HostEntry, *, replace: bool = False) -> None:
        """Save a host; refuses to overwrite one of the same name unless `replace`."""
        validate_host_name(entry.name)
        validate_uri(entry.uri)
        with self._locked():
            entries = self.load()
            if not replace and any(e.name == entry.name for e in entries):
                raise UsageError(f"a host named {entry.name!r} is already saved", hint="remove it first")
            same = [e.name for e in entries if e.uri == entry.uri and e.name != entry.name]
            if same:
                raise UsageError(f"{entry.uri} is already saved as {same[0]!r}", hint="one name per host")
            self._write([e for e in entries if e.name != entry.name] + [entry])

    def remove(self, name: str) -> HostEntry:
        with self._locked():
            entries = self.load()
            found = [e for e in entries if e.name == name]
            if not found:
                raise NotFoundError(f"no saved host named {name!r}", hint="see `vmtui hosts`")
            self._write([e for e in entries if e.name != name])
        return found[0]

    def set_maintenance(self, name: str, on: bool) -> HostEntry:
        """Put a saved host in maintenance (a drain) or take it out (undrain); returns the new entry."""
        with self._locked():
            entries = self.load()
            found = [e for e in entries if e.name == name]
            if not found:
                raise NotFoundError(f"no saved host named {name!r}", hint="see `vmtui hosts`")
            changed = replace(found[0], maintenance=on)
            self._write([changed if e.name == name else e for e in entries])
        return changed

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One read-modify-write of the file at a time, across threads and processes.

        An flock on a lock file beside it (never on hosts.toml, which each write replaces): every call
        opens its own descriptor, so two threads of one process exclude each other too. Without it two
        writers that each loaded the file before the other wrote lose one change (`lab down` of two
        hosts once kept one of them).
        """
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _write(self, entries: list[HostEntry]) -> None:
        """Replace the file with `entries`; the caller holds `_locked()`."""
        import tomli_w  # only writers pay for it

        # `entries` is the whole file: the caller loaded it, and loading refuses any table but [hosts].
        body = {"hosts": {e.name: _table(e) for e in entries}}
        # Write-then-rename so a crash never leaves a truncated hosts file behind.
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".hosts.", suffix=".toml")
        try:
            with os.fdopen(fd, "wb") as fh:
                tomli_w.dump(body, fh)
                fh.flush()
                os.fsync(fh.fileno())  # the new contents are on disk before the name points at them
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _table(entry: HostEntry) -> dict[str, object]:
    """One [hosts.NAME] table; `maintenance` only while it is true (the usual file keeps two keys)."""
    table: dict[str, object] = {"uri": entry.uri, "read_only": entry.read_only}
    if entry.maintenance:
        table["maintenance"] = True
    if entry.colour is not None:
        table["colour"] = entry.colour
    return table


@contextmanager
def drain_lock(name: str) -> Iterator[None]:
    """Held while host `name` is being drained (by any process): a second drain is refused at once.

    An flock, which the kernel drops when its holder dies, so a drain killed with -9 never leaves the
    host "draining" for ever; the file keeps the holder's pid for the refusal's words.
    """
    import fcntl

    folder = paths().state / "drain"
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / f"{validate_host_name(name)}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise UsageError(
                f"{name} is already being drained (vmtui pid {holder})",
                hint="wait for that drain, or Ctrl-C it; nothing was changed",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


HOST_KEYS = {"uri": str, "read_only": bool, "maintenance": bool, "colour": str}
"""The keys of a [hosts.NAME] table and their TOML types; anything else is refused."""


MOVED_TO_CONFIG = ("thresholds",)
"""Tables a build of issue 24 read from hosts.toml before they moved to config.toml: named as moved, not unknown."""


def host_key_error(name: str, key: str, message: str) -> ConfigError:
    """An error about saved host `name`'s `key`, naming hosts.toml and the line (for checks made above)."""
    store = HostStore()
    text, _data = store._read()
    line = _line_of(text, name, key)
    return ConfigError(f"{store.path}:{line}: {message}" if line else f"{store.path}: {message}")


class ConfigError(UsageError):
    """hosts.toml or config.toml is not exactly right (exit 2, nothing changed)."""


def _line_of(text: str, name: str, key: str | None = None) -> int:
    """The line (1-based) of host `name`'s table, or of `key` inside it; 0 when not found."""
    return key_line(text, (f"hosts.{name}", f'hosts."{name}"', f"hosts.'{name}'"), key)


def _entries(path: Path, text: str, data: dict[str, object]) -> list[HostEntry]:
    def fail(message: str, name: str | None = None, key: str | None = None) -> ConfigError:
        line = _line_of(text, name, key) if name is not None else 0
        where = f"{path}:{line}" if line else str(path)
        return ConfigError(f"{where}: {message}")

    extra = sorted(set(data) - {"hosts"})
    if extra:
        line = top_level_line(text, extra[0])
        where = f"{path}:{line}" if line else str(path)
        if extra[0] in MOVED_TO_CONFIG:
            beside = path.with_name("config.toml")
            raise ConfigError(
                f"{where}: [{extra[0]}] belongs in {beside} now (hosts.toml keeps the hosts); move it there"
            )
        raise ConfigError(f"{where}: unknown top-level key {extra[0]!r} (known: [hosts.NAME])")
    hosts = data.get("hosts", {})
    if not isinstance(hosts, dict):
        raise fail("'hosts' must be a table of [hosts.NAME] tables")
    entries: list[HostEntry] = []
    seen_uris: dict[str, str] = {}
    for name, body in hosts.items():
        if not HOST_NAME_RE.match(name):
            raise fail(f"hosts.{name!r}: invalid host name (letters, digits, '.', '_', '-')", name)
        if not isinstance(body, dict):
            raise fail(f'hosts.{name}: must be a table with uri = "..."', name)
        for key, value in body.items():
            if key not in HOST_KEYS:
                raise fail(f"hosts.{name}.{key}: unknown key (known: {', '.join(HOST_KEYS)})", name, key)
            if not isinstance(value, HOST_KEYS[key]):
                kind = "true or false (without quotes)" if HOST_KEYS[key] is bool else "a string"
                raise fail(f"hosts.{name}.{key}: must be {kind}, not {value!r}", name, key)
        if "uri" not in body:
            raise fail(f'hosts.{name}: uri = "..." is missing', name)
        try:
            validate_uri(body["uri"])
        except UsageError as exc:
            raise fail(f"hosts.{name}.uri: {exc.message}", name, "uri") from exc
        if body["uri"] in seen_uris:
            other = seen_uris[body["uri"]]
            raise fail(f"hosts.{name}.uri: the same URI as host {other!r} (every domain would show twice)", name, "uri")
        seen_uris[body["uri"]] = name
        # Whether Rich can draw the colour is asked where it is drawn (`richtext.check_host_colours`):
        # no UI library below the faces.
        colour = body.get("colour")
        entries.append(
            HostEntry(
                name,
                body["uri"],
                body.get("read_only", False),
                maintenance=body.get("maintenance", False),
                colour=colour,
            )
        )
    return entries


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
        targets.append(replace(entry, read_only=entry.read_only or read_only))
    if not targets:
        targets = [replace(e, read_only=e.read_only or read_only) for e in store.load()]
    if not targets:
        targets = [HostEntry(name="default", uri="", read_only=read_only)]
    if len({t.name for t in targets}) != len(targets):
        raise UsageError("the same host is named twice")
    return targets
