"""Facts about this machine that libvirt does not report: EPT/NPT and /dev/kvm access.

Only meaningful for local URIs; remote hosts answer "unknown" rather than this machine's values.
The sysfs root is a parameter so tests can point it at a temporary tree.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def tdp_status(sys_root: Path = Path("/sys")) -> tuple[bool | None, str]:
    """Whether two-dimensional paging (Intel EPT, AMD NPT) is on, and how that was found out."""
    for module, param, label in (("kvm_intel", "ept", "EPT"), ("kvm_amd", "npt", "NPT")):
        value = _read(sys_root / "module" / module / "parameters" / param)
        if value is not None:
            on = value in ("Y", "y", "1")
            return on, f"{label} {'on' if on else 'off'} ({module}.{param}={value})"
    if (sys_root / "module" / "kvm_pvm").exists():
        # PVM runs KVM without hardware virtualization: guest page tables are shadowed in software.
        return False, "no EPT/NPT: kvm_pvm (software shadow paging)"
    if (sys_root / "module" / "kvm").exists():
        return None, "kvm loaded, vendor module unknown"
    return None, "KVM not loaded"


def kvm_device_problem(dev: Path = Path("/dev/kvm")) -> str | None:
    """Why libvirt's unprivileged QEMU could not open /dev/kvm, or None when it can."""
    try:
        st = dev.stat()
    except FileNotFoundError:
        return "/dev/kvm does not exist (no KVM module, or no hardware virtualization)"
    except OSError as exc:
        return f"/dev/kvm: {exc.strerror}"
    if not stat.S_ISCHR(st.st_mode):
        return "/dev/kvm is not a character device"
    if st.st_mode & 0o006 == 0o006 or st.st_mode & 0o060 == 0o060:
        return None
    return "/dev/kvm is root-only; as root run: chgrp kvm /dev/kvm && chmod 660 /dev/kvm"


def kernel_release() -> str:
    return os.uname().release
