"""Recordings: samples taken from real hosts, written as JSON lines, and a read-only driver over them.

A recording is how the TUI's snapshot tests get deterministic screens from real data, and how a user
can send a bug report of what their host showed. Line 1 is a header with every host's facts and
domains; each further line is one HostSample. `ReplayHost` plays one host of a recording back through
the same `Hypervisor` protocol as a live connection: every `sample()` hands out the next recorded
sample, then `EndOfRecordingError`. Everything that would change a host is refused: a recording has none.
No libvirt here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import asdict, fields, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from vmtui.drivers.uri import REPLAY_SCHEME
from vmtui.errors import DeniedError, EndOfRecordingError, NotFoundError, UsageError
from vmtui.models import (
    Accelerator,
    Device,
    DeviceClass,
    DiskFile,
    DomainInfo,
    DomainStats,
    HostEntry,
    HostInfo,
    HostSample,
    Snapshot,
    UndefineFacts,
)

FORMAT = "vmtui-recording/1"


def header(hosts: dict[str, tuple[HostInfo, list[DomainInfo]]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "hosts": {
            name: {"info": asdict(info), "domains": [asdict(d) for d in doms]} for name, (info, doms) in hosts.items()
        },
    }


def sample_line(sample: HostSample) -> str:
    body = {
        "host": sample.host,
        "uri": sample.uri,
        "monotonic": sample.monotonic,
        "wall": sample.wall,
        "cpu_ns": dict(sample.cpu_ns),
        "memory_kib": dict(sample.memory_kib),
        # `busy` only where true: recordings made before it read the same.
        "domains": [
            {"uuid": d.uuid, "name": d.name, "raw": dict(d.raw), **({"busy": True} if d.busy else {})}
            for d in sample.domains
        ],
        "ksm": dict(sample.ksm),
    }
    return json.dumps(body, separators=(",", ":"))


def write_header(out: IO[str], hosts: dict[str, tuple[HostInfo, list[DomainInfo]]]) -> None:
    out.write(json.dumps(header(hosts)) + "\n")


def _known(cls: type, body: dict[str, Any]) -> dict[str, Any]:
    """Only the fields `cls` has: a recording made by a newer vmtui still plays."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in body.items() if k in names}


def _domain(body: dict[str, Any]) -> DomainInfo:
    devices = tuple(
        Device(d["kind"], d["name"], d["model"], DeviceClass(d["dev_class"]), d.get("detail", ""))
        for d in body.get("devices", [])
    )
    return DomainInfo(
        **{**_known(DomainInfo, body), "accelerator": Accelerator(body["accelerator"]), "devices": devices}
    )


def _sample(body: dict[str, Any]) -> HostSample:
    return HostSample(
        host=body["host"],
        uri=body["uri"],
        monotonic=float(body["monotonic"]),
        wall=float(body["wall"]),
        cpu_ns=MappingProxyType({k: int(v) for k, v in body["cpu_ns"].items()}),
        memory_kib=MappingProxyType({k: int(v) for k, v in body["memory_kib"].items()}),
        domains=tuple(
            DomainStats(d["uuid"], d["name"], MappingProxyType(d["raw"]), bool(d.get("busy", False)))
            for d in body["domains"]
        ),
        # Recordings made before KSM was sampled have none.
        ksm=MappingProxyType({k: int(v) for k, v in body.get("ksm", {}).items()}),
    )


class Recording:
    """A recording loaded in memory: host facts, domains, and samples per host in time order."""

    def __init__(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not a vmtui recording (not UTF-8 text)") from exc
        except OSError as exc:
            raise NotFoundError(f"cannot read recording {path}: {exc.strerror}") from exc
        if not lines:
            raise UsageError(f"{path} is empty, not a vmtui recording")
        try:
            head = json.loads(lines[0])
            if not isinstance(head, dict) or head.get("format") != FORMAT:
                found = head.get("format") if isinstance(head, dict) else None
                raise UsageError(f"{path} is not a vmtui recording (format {found!r})")
            self.hosts: dict[str, HostInfo] = {
                n: replace(HostInfo(**_known(HostInfo, h["info"])), read_only=True, source="recording")
                for n, h in head["hosts"].items()
            }
            self.domains: dict[str, list[DomainInfo]] = {
                n: [_domain(d) for d in h["domains"]] for n, h in head["hosts"].items()
            }
            samples = [_sample(json.loads(line)) for line in lines[1:] if line.strip()]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, UsageError):
                raise
            raise UsageError(f"{path} is not a valid vmtui recording: {exc}") from exc
        self.samples: dict[str, list[HostSample]] = {n: [] for n in self.hosts}
        for s in samples:
            self.samples.setdefault(s.host, []).append(s)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> Recording:
    return Recording(Path(path))


def load_recording(path: Path) -> Recording:
    """The recording at `path`, read once per process while the file is unchanged."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise NotFoundError(f"cannot read recording {path}: {exc.strerror}") from exc
    return _load(str(path.resolve()), mtime)


def replay_uri(path: Path, host: str) -> str:
    """The URI of one host of a recording, as `drivers.connect` opens it."""
    return f"{REPLAY_SCHEME}://{quote(str(path.resolve()))}?host={quote(host)}"


def replay_entries(path: Path) -> list[HostEntry]:
    """Every host of a recording, as hosts to watch (read-only: a recording changes nothing)."""
    recording = load_recording(path)
    return [HostEntry(name, replay_uri(path, name), read_only=True) for name in recording.hosts]


def parse_replay_uri(uri: str) -> tuple[Path, str]:
    parts = urlsplit(uri)
    host = parse_qs(parts.query).get("host", [""])[-1]
    return Path(unquote(parts.netloc + parts.path)), host


class ReplayHost:
    """One host of a recording, played back through the `Hypervisor` protocol. Read-only by nature."""

    read_only = True
    finite = True
    """Every sample counts (none may be coalesced away) and the source ends."""

    def __init__(self, uri: str) -> None:
        path, self.host = parse_replay_uri(uri)
        self.recording = load_recording(path)
        if self.host not in self.recording.hosts:
            raise NotFoundError(f"recording {path} has no host {self.host!r}")
        self.uri = uri
        self._info = self.recording.hosts[self.host]
        self._domains = {d.uuid: d for d in self.recording.domains.get(self.host, [])}
        self._samples = self.recording.samples.get(self.host, [])
        self._next = 0

    def __enter__(self) -> ReplayHost:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release."""

    def is_alive(self) -> bool:
        return True

    @property
    def closed_reason(self) -> str | None:
        return None

    def on_closed(self, listener: Callable[[str], None]) -> None:
        """A recording never drops."""

    def on_lifecycle(self, callback: Callable[[str, str, int], None]) -> None:
        """A recording has no events beyond its samples."""

    def require_writable(self, action: str) -> None:
        raise DeniedError(f"{action}: a replay has no live host (recording of {self.host})")

    def host_info(self, *, probe: bool = True) -> HostInfo:
        return self._info

    def list_domains(self) -> list[DomainInfo]:
        return sorted(self._domains.values(), key=lambda d: d.name)

    def domain(self, ident: str) -> DomainInfo:
        for d in self._domains.values():
            if ident in (d.uuid, d.name) or (d.id is not None and ident == str(d.id)):
                return d
        raise NotFoundError(f"no domain {ident!r} in the recording of {self.host}")

    def domain_xml(self, ident: str, *, inactive: bool = False) -> str:
        raise NotFoundError(f"{ident}: a recording holds no domain XML")

    def sample(self, host: str | None = None, *, only: Collection[str] | None = None) -> HostSample:
        # A recording's samples are whole (and each must be seen): `only` is not applied.
        if self._next >= len(self._samples):
            raise EndOfRecordingError(f"recording of {self.host} ended after {len(self._samples)} samples")
        sample = self._samples[self._next]
        self._next += 1
        return sample if host is None or host == sample.host else replace(sample, host=host)

    def lifecycle(self, ident: str, action: str) -> DomainInfo | None:
        self.require_writable(action)
        raise AssertionError("unreachable: require_writable always raises")

    # A recording holds samples and facts only: no definitions, no snapshots.

    def find_domain_by_xml(self, xml: str) -> DomainInfo | None:
        self.require_writable("define")
        raise AssertionError("unreachable: require_writable always raises")

    def define_xml(self, xml: str) -> DomainInfo:
        self.require_writable("define")
        raise AssertionError("unreachable: require_writable always raises")

    def undefine_facts(self, ident: str) -> UndefineFacts:
        self.require_writable("undefine")
        raise AssertionError("unreachable: require_writable always raises")

    def undefine(
        self, ident: str, *, keep_nvram: bool = False, volumes: tuple[DiskFile, ...] = ()
    ) -> tuple[DiskFile, ...]:
        self.require_writable("undefine")
        raise AssertionError("unreachable: require_writable always raises")

    def list_snapshots(self, ident: str) -> list[Snapshot]:
        raise NotFoundError(f"{ident}: a recording holds no snapshots")

    def snapshot(self, ident: str, name: str) -> Snapshot:
        raise NotFoundError(f"{ident}: a recording holds no snapshots")

    def current_snapshot(self, ident: str) -> Snapshot | None:
        raise NotFoundError(f"{ident}: a recording holds no snapshots")

    def create_snapshot(self, ident: str, xml: str, *, disk_only: bool = False) -> Snapshot:
        self.require_writable("create snapshot")
        raise AssertionError("unreachable: require_writable always raises")

    def revert_snapshot(self, ident: str, name: str) -> DomainInfo:
        self.require_writable("revert to snapshot")
        raise AssertionError("unreachable: require_writable always raises")

    def delete_snapshot(self, ident: str, name: str, *, children: bool = False) -> None:
        self.require_writable("delete snapshot")
