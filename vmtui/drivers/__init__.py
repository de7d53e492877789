"""The backend: everything that talks to hosts. Never imports Textual (import-linter enforces it).

`open_host` opens any source the layers above may watch: a libvirt URI, or one host of a recording
(`vmtui-replay://...`, see `vmtui.drivers.replay`). `connect` opens a live libvirt connection with
every call vmtui makes. Both import libvirt lazily so that `import vmtui.drivers` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmtui.errors import VmtuiError

if TYPE_CHECKING:
    from vmtui.drivers.base import Hypervisor
    from vmtui.drivers.libvirt.driver import Connection


def connect(uri: str | None, *, read_only: bool = False) -> Connection:
    """Open a libvirt connection; see `vmtui.drivers.libvirt.driver.Connection`."""
    try:
        from vmtui.drivers.libvirt import driver as libvirt_driver
    except ImportError as exc:
        raise VmtuiError(
            f"libvirt-python is not usable ({exc})",
            hint="install python3-libvirt, or libvirt-dev + pkg-config + gcc + python3-dev and reinstall vmtui",
        ) from exc
    return libvirt_driver.connect(uri, read_only=read_only)


def open_host(uri: str | None, *, read_only: bool = False) -> Hypervisor:
    """Open a host to watch or act on: a recording's host for `vmtui-replay://` URIs, else libvirt."""
    from vmtui.drivers.uri import is_replay_uri

    if uri and is_replay_uri(uri):
        from vmtui.drivers.replay import ReplayHost

        return ReplayHost(uri)
    return connect(uri, read_only=read_only)


__all__ = ["connect", "open_host"]
