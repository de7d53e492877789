"""What a device change did, half by half: the running guest (live) and the persistent definition (config).

A change may need two libvirt calls (config, then live detach + attach); the result says exactly which
half was done, skipped (and why), or failed (with libvirt's words), so a CLI or a screen never reports
"done" for a change that happened only in part.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from vmtui.drivers.deviceapi import DeviceHost, DomainDocs
from vmtui.errors import OperationError, UsageError, VmtuiError
from vmtui.models import state_name

RUNNING = 1
PAUSED = 3

RELEASE_TIMEOUT = 20.0
"""Seconds a guest may take to let go of a device after a live detach (a Linux guest under TCG takes
about one; a guest without an OS never does)."""
RELEASE_POLL = 0.25


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not attempted: not asked for, not applicable (no live domain, no persistent config), or an
    earlier step failed."""


@dataclass(frozen=True, slots=True)
class Half:
    outcome: Outcome
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"outcome": str(self.outcome), "detail": self.detail}


def done(detail: str = "") -> Half:
    return Half(Outcome.DONE, detail)


def failed(detail: str) -> Half:
    return Half(Outcome.FAILED, detail)


def skipped(detail: str) -> Half:
    return Half(Outcome.SKIPPED, detail)


_SAID_FIRST = {Outcome.DONE: 0, Outcome.FAILED: 1, Outcome.SKIPPED: 2}
"""The order of a change's halves in its summary: what took effect, what failed, what was left out."""


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """One device changed on one domain."""

    host: str
    domain: str
    uuid: str
    action: str
    """virtio-nic, virtio-disk, add-disk, add-nic, attach-vf, detach-vf."""
    device: str
    """The device as users name it: a NIC's MAC, a disk's target, a VF's PCI address."""
    before: str
    after: str
    live: Half
    config: Half
    notes: tuple[str, ...] = ()
    """What the change means for the guest (next boot, drivers, names that change)."""
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Figures behind it for scripts: the volume's path, the VF libvirt picked, ..."""

    @property
    def changed(self) -> str:
        """both, live, config or none: where the change took effect."""
        live, config = self.live.outcome is Outcome.DONE, self.config.outcome is Outcome.DONE
        return {(True, True): "both", (True, False): "live", (False, True): "config"}.get((live, config), "none")

    @property
    def ok(self) -> bool:
        return Outcome.FAILED not in (self.live.outcome, self.config.outcome)

    def summary(self) -> str:
        """One line: what changed where, each half with its outcome and what it means.

        A half that took effect comes first: when the other failed, the part that did work is read
        first, not after the failure's long explanation (a notification may be cut short).
        """
        head = f"{self.action} {self.device} on {self.domain}: {self.before} -> {self.after}"
        halves = sorted((("live", self.live), ("config", self.config)), key=lambda h: _SAID_FIRST[h[1].outcome])
        parts = [
            f"{name}: {half.outcome}"
            + (f" ({half.detail})" if half.detail and half.outcome is not Outcome.SKIPPED else "")
            for name, half in halves
        ]
        return f"{head}; " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "domain": self.domain,
            "uuid": self.uuid,
            "action": self.action,
            "device": self.device,
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
            "ok": self.ok,
            "live": self.live.to_json(),
            "config": self.config.to_json(),
            "notes": list(self.notes),
            "facts": dict(self.facts),
        }


@dataclass(frozen=True, slots=True)
class Scopes:
    """Which halves a change touches, and why a half is left out."""

    live: bool
    config: bool
    live_why: str = ""
    config_why: str = ""

    def live_skip(self) -> Half:
        return skipped(self.live_why or "not asked")

    def config_skip(self) -> Half:
        return skipped(self.config_why or "not asked")


def scopes(docs: DomainDocs, *, live: bool, config: bool) -> Scopes:
    """Both halves where they exist unless the user named one; naming one that does not exist is refused.

    `--live` on a shut-off domain and `--config` on a transient one are refused before any call.
    """
    active, persistent = docs.live is not None, docs.config is not None
    if live and not active:
        raise UsageError(f"{docs.name} is {state_name(docs.state_code)}: nothing live to change", hint="use --config")
    if config and not persistent:
        raise UsageError(f"{docs.name} is transient: it has no persistent config", hint="use --live")
    if live or config:
        return Scopes(live, config, "" if live else "--config only", "" if config else "--live only")
    return Scopes(
        active,
        persistent,
        "" if active else f"not running ({state_name(docs.state_code)})",
        "" if persistent else "transient domain: no persistent config",
    )


def wait_released(
    conn: DeviceHost,
    ident: str,
    present: Callable[[str], bool],
    *,
    timeout: float,
    cancel: threading.Event,
) -> bool:
    """Wait until `present(live XML)` is false: the guest let go of a device after a live detach.

    True when it did within `timeout` seconds (or the domain stopped); False otherwise. A cancel
    ends the wait early (False): the unplug request stays with QEMU either way.
    """
    deadline = time.monotonic() + timeout
    while True:
        live = conn.domain_docs(ident).live
        if live is None or not present(live):
            return True
        if time.monotonic() >= deadline or cancel.wait(RELEASE_POLL):
            return False


def attach(conn: DeviceHost, uuid: str, xml: str, *, live: bool, config: bool) -> None:
    """`attach_device`, with the fix named when a running guest has no free slot to plug into."""
    try:
        conn.attach_device(uuid, xml, live=live, config=config)
    except VmtuiError as exc:
        if live and "no more available pci slots" in exc.message.lower():
            raise OperationError(
                exc.message,
                hint="the running guest has no free hotplug slot: add it with --config (libvirt adds a slot, "
                "and the device appears at the next boot)",
            ) from exc
        raise
