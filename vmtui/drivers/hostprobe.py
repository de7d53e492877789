"""Facts about a host that libvirt does not report: kernel, EPT/NPT, /dev/kvm access.

They are read from the host's own files (`vmtui.drivers.hostfiles`: locally, or over the host's
SSH), as one batch of paths; the verdicts here are pure functions of what those files said.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

OSRELEASE = "/proc/sys/kernel/osrelease"
EPT = "/sys/module/kvm_intel/parameters/ept"
NPT = "/sys/module/kvm_amd/parameters/npt"
KVM_PVM = "/sys/module/kvm_pvm"
KVM = "/sys/module/kvm"
FACT_PATHS = (OSRELEASE, EPT, NPT, KVM_PVM, KVM)
"""Everything `probe` needs, read in one round trip."""


@dataclass(frozen=True, slots=True)
class HostFacts:
    kernel: str | None
    tdp: bool | None
    """Two-dimensional paging (Intel EPT / AMD NPT) on; None when it could not be told."""
    tdp_detail: str
    kvm_module: str | None = None
    """kvm_intel, kvm_amd or kvm_pvm (nested PVM: no EPT/NPT, and stock Linux kernels hang under it)."""


def tdp_verdict(files: Mapping[str, str | None]) -> tuple[bool | None, str]:
    """Whether EPT/NPT is on, and how that was found out, from the contents of FACT_PATHS.

    `files` maps a path to its contents, "" for a directory that exists, None (or absent) when missing.
    """
    for path, module, label in ((EPT, "kvm_intel", "EPT"), (NPT, "kvm_amd", "NPT")):
        value = files.get(path)
        if value:
            on = value.strip() in ("Y", "y", "1")
            return on, f"{label} {'on' if on else 'off'} ({module}.{path.rsplit('/', 1)[1]}={value.strip()})"
    if files.get(KVM_PVM) is not None:
        # PVM runs KVM without hardware virtualization: guest page tables are shadowed in software.
        return False, "no EPT/NPT: kvm_pvm (software shadow paging)"
    if files.get(KVM) is not None:
        return None, "kvm loaded, vendor module unknown"
    return None, "KVM not loaded"


def kvm_module(files: Mapping[str, str | None]) -> str | None:
    """Which vendor module runs KVM, from the contents of FACT_PATHS."""
    if files.get(EPT) is not None:
        return "kvm_intel"
    if files.get(NPT) is not None:
        return "kvm_amd"
    if files.get(KVM_PVM) is not None:
        return "kvm_pvm"
    return None


def facts_from(files: Mapping[str, str | None]) -> HostFacts:
    kernel = files.get(OSRELEASE)
    tdp, detail = tdp_verdict(files)
    return HostFacts(
        kernel=kernel.strip() if kernel else None, tdp=tdp, tdp_detail=detail, kvm_module=kvm_module(files)
    )


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
