"""Recordings: samples taken from real hosts, written as JSON lines and played back later.

A recording is how the TUI's snapshot tests get deterministic screens from real data, and how a
user can send a bug report of what their host showed. Line 1 is a header with every host's facts
and domains; each further line is one HostSample. Pure (file in, models out), no libvirt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from vmtui.models import Accelerator, Device, DeviceClass, DomainInfo, DomainStats, HostInfo, HostSample

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
        "domains": [{"uuid": d.uuid, "name": d.name, "raw": dict(d.raw)} for d in sample.domains],
    }
    return json.dumps(body, separators=(",", ":"))


def write_header(out: IO[str], hosts: dict[str, tuple[HostInfo, list[DomainInfo]]]) -> None:
    out.write(json.dumps(header(hosts)) + "\n")


def _domain(body: dict[str, Any]) -> DomainInfo:
    devices = tuple(
        Device(d["kind"], d["name"], d["model"], DeviceClass(d["dev_class"]), d.get("detail", ""))
        for d in body.get("devices", [])
    )
    return DomainInfo(**{**body, "accelerator": Accelerator(body["accelerator"]), "devices": devices})


def _sample(body: dict[str, Any]) -> HostSample:
    return HostSample(
        host=body["host"],
        uri=body["uri"],
        monotonic=float(body["monotonic"]),
        wall=float(body["wall"]),
        cpu_ns=MappingProxyType({k: int(v) for k, v in body["cpu_ns"].items()}),
        memory_kib=MappingProxyType({k: int(v) for k, v in body["memory_kib"].items()}),
        domains=tuple(DomainStats(d["uuid"], d["name"], MappingProxyType(d["raw"])) for d in body["domains"]),
    )


class Recording:
    """A recording loaded in memory: host facts, domains, and samples per host in time order."""

    def __init__(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read recording {path}: {exc.strerror}") from exc
        if not lines:
            raise ValueError(f"{path} is empty")
        try:
            head = json.loads(lines[0])
            if head.get("format") != FORMAT:
                raise ValueError(f"{path} is not a vmtui recording (format {head.get('format')!r})")
            self.hosts: dict[str, HostInfo] = {n: HostInfo(**h["info"]) for n, h in head["hosts"].items()}
            self.domains: dict[str, list[DomainInfo]] = {
                n: [_domain(d) for d in h["domains"]] for n, h in head["hosts"].items()
            }
            samples = [_sample(json.loads(line)) for line in lines[1:] if line.strip()]
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a valid vmtui recording: {exc}") from exc
        self.samples: dict[str, list[HostSample]] = {n: [] for n in self.hosts}
        for s in samples:
            self.samples.setdefault(s.host, []).append(s)

    def iter_samples(self, host: str) -> Iterator[HostSample]:
        yield from self.samples.get(host, [])
