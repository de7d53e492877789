"""What the layers above the drivers may call: the `Hypervisor` protocol.

A live libvirt connection (`libvirt_driver.Connection`) and a recording played back
(`replay.ReplayHost`) both satisfy it, so the monitor, the CLI and the TUI never branch on which
one they hold. Calls block; errors are `vmtui.errors.VmtuiError`s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self

from vmtui.models import DiskFile, DomainInfo, HostInfo, HostSample, Snapshot, UndefineFacts


class Hypervisor(Protocol):
    uri: str
    """The URI libvirt resolved (aliases expanded)."""
    read_only: bool
    finite: bool
    """True for a recording: every sample counts and the source ends (EndOfRecordingError)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *_exc: object) -> None: ...

    def close(self) -> None: ...

    def is_alive(self) -> bool: ...

    @property
    def closed_reason(self) -> str | None:
        """Why the connection dropped (end of file, keepalive timeout, ...), or None while it is up."""

    def on_closed(self, listener: Callable[[str], None]) -> None:
        """Call `listener(reason)` from another thread when the connection drops."""

    def on_lifecycle(self, callback: Callable[[str, str, int], None]) -> None:
        """Call `callback(uuid, event, detail)` from another thread on every lifecycle event."""

    def require_writable(self, action: str) -> None:
        """Raise DeniedError, before any call, when nothing may be changed through this connection."""

    def host_info(self, *, probe: bool = True) -> HostInfo: ...

    def list_domains(self) -> list[DomainInfo]: ...

    def domain(self, ident: str) -> DomainInfo:
        """A domain by name, UUID or ID; NotFoundError when there is none."""

    def domain_xml(self, ident: str, *, inactive: bool = False) -> str: ...

    def sample(self, host: str | None = None) -> HostSample:
        """One bulk sample of every domain; EndOfRecordingError when a finite source has no more."""

    def lifecycle(self, ident: str, action: str) -> DomainInfo: ...

    # ----- definitions (drivers/definitions.py) -----

    def find_domain_by_xml(self, xml: str) -> DomainInfo | None:
        """The domain a definition would replace (same UUID, else same name), or None."""

    def define_xml(self, xml: str) -> DomainInfo:
        """Define or redefine a persistent domain, validated by libvirt; a refusal changes nothing."""

    def undefine_facts(self, ident: str) -> UndefineFacts: ...

    def undefine(
        self, ident: str, *, keep_nvram: bool = False, volumes: tuple[DiskFile, ...] = ()
    ) -> tuple[DiskFile, ...]: ...

    # ----- snapshots (drivers/snapshots.py) -----

    def list_snapshots(self, ident: str) -> list[Snapshot]: ...

    def snapshot(self, ident: str, name: str) -> Snapshot: ...

    def current_snapshot(self, ident: str) -> Snapshot | None: ...

    def create_snapshot(self, ident: str, xml: str, *, disk_only: bool = False) -> Snapshot: ...

    def revert_snapshot(self, ident: str, name: str) -> DomainInfo: ...

    def delete_snapshot(self, ident: str, name: str, *, children: bool = False) -> None: ...
