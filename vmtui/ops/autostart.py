"""Autostart on or off, for a domain or a network: what the host starts by itself when it boots."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import live
from vmtui.errors import OperationError, UsageError
from vmtui.models import DomainInfo
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress

KINDS = ("domain", "network")


@dataclass(frozen=True, slots=True)
class AutostartSet:
    kind: str
    """domain or network."""
    name: str
    autostart: bool
    """As the host reports it after the change."""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "autostart": self.autostart}


def refuse_transient(info: DomainInfo, word: str) -> None:
    """OperationError for a transient domain: it has no definition to start at boot (`word`: on or off)."""
    if not info.persistent:
        raise OperationError(f"autostart {word} {info.name}: a transient domain has no autostart (define it first)")


def set_autostart(
    conn: Hypervisor,
    kind: str,
    ident: str,
    on: bool,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> AutostartSet:
    """Turn autostart on or off for domain or network `ident`; a transient object is refused first."""
    if kind not in KINDS:
        raise UsageError(f"autostart: {kind!r} is not one of {', '.join(KINDS)}")
    conn.require_writable("autostart")
    host = live(conn, "autostart")
    word = "on" if on else "off"
    if kind == "domain":
        info = host.domain(ident)
        name, ident = info.name, info.uuid
        refuse_transient(info, word)
    else:
        net = host.network(ident)
        name = net.name
        if not net.persistent:
            raise OperationError(f"autostart {word} network {name}: a transient network has no autostart")
    check_cancel(cancel or never_cancelled(), f"autostart {word} {name}")
    progress(Step(f"autostart {word} for {kind} {name}"))
    if kind == "domain":
        return AutostartSet(kind, name, host.set_domain_autostart(ident, on))
    return AutostartSet(kind, name, host.set_network_autostart(name, on).autostart)
