"""The backend: everything that talks to hosts. Never imports Textual (a test enforces it).

`connect` is imported lazily so that `import vmtui.drivers` stays cheap and does not need libvirt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmtui.drivers.libvirt_driver import Connection


def connect(uri: str | None, *, read_only: bool = False) -> Connection:
    """Open a libvirt connection; see `vmtui.drivers.libvirt_driver.Connection`."""
    try:
        from vmtui.drivers import libvirt_driver
    except ImportError as exc:
        from vmtui.errors import VmtuiError

        raise VmtuiError(
            f"libvirt-python is not usable ({exc})",
            hint="install python3-libvirt, or libvirt-dev + pkg-config + gcc + python3-dev and reinstall vmtui",
        ) from exc
    return libvirt_driver.connect(uri, read_only=read_only)


__all__ = ["connect"]
