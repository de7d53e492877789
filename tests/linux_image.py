"""The lab's Linux guest image (Debian kernel + busybox initramfs, vmtui/lab/image.py) for local guests.

Built once into a cache kept between sessions (building downloads a kernel package), readable by
QEMU, which runs as libvirt-qemu: a local guest boots it directly (`<kernel>`, `<initrd>`).
"""

from __future__ import annotations

import os
from pathlib import Path

from vmtui.lab.image import GuestImage


def cached_linux_image() -> GuestImage:
    from vmtui.lab import image

    cache = Path(os.environ.get("VMTUI_TEST_CACHE", "/var/tmp/vmtui-test-cache"))
    old = os.environ.get("VMTUI_HOME")
    os.environ["VMTUI_HOME"] = str(cache)
    try:
        built = image.build_image()
    finally:
        if old is None:
            os.environ.pop("VMTUI_HOME", None)
        else:
            os.environ["VMTUI_HOME"] = old
    cache.chmod(0o755)
    for parent in built.kernel.parents:
        if parent == cache.parent:
            break
        parent.chmod(0o755)  # QEMU (libvirt-qemu) reads the kernel and initramfs
    return built
