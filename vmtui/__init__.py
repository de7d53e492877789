"""vmtui: a terminal console for KVM/QEMU hypervisors over libvirt."""

__version__ = "0.1.0"
