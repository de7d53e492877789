#!/usr/bin/env bash
# Idempotent set-up from nothing on Debian 12 (root, no systemd): apt packages, the venv,
# the libvirt daemons, and /dev/kvm access for libvirt's QEMU. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

# prometheus: the real server that tests/lab/test_export_prometheus.py starts (on loopback) to scrape `vmtui export`.
# mmdebstrap, e2fsprogs: the Debian cloud-init image of tests/integration/test_cloud_init_guest.py (tests/cloud_image.py).
APT_PACKAGES=(
  libvirt-daemon-system libvirt-clients libvirt-dev pkg-config qemu-system-x86 qemu-utils
  openssh-server busybox-static iproute2 tmux gcc libc6-dev python3-dev python3-venv
  prometheus osinfo-db mmdebstrap e2fsprogs
)
PYTHON=${PYTHON:-python3}
VENV=.venv

say() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  # Nothing is done half-way: without root we change nothing at all.
  say "needs root (apt, libvirtd, /dev/kvm). Run: sudo make setup"
  exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv is rebuilt only when pyproject.toml changed since the last install.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
  say "installing vmtui and its test tools into $VENV (libvirt-python builds from source: ~20 s)"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]'
  touch "$VENV/.installed"
fi

# /dev/kvm: Debian's udev rule makes it group kvm, mode 660; without udev it stays root-only and
# libvirt's QEMU (user libvirt-qemu, group kvm) fails with "Permission denied".
if [ -c /dev/kvm ]; then
  if [ "$(stat -c %G /dev/kvm)" != kvm ] || [ $(( 0$(stat -c %a /dev/kvm) & 060 )) -ne $(( 060 )) ]; then
    say "making /dev/kvm usable by group kvm (as Debian's udev rule does)"
    chgrp kvm /dev/kvm
    chmod 660 /dev/kvm
  fi
else
  say "no /dev/kvm: guests will run under TCG (software emulation)"
fi

# libvirt 9.0 writes the MAC list of a network without DHCP (vmtui's test networks, the lab's) into this
# directory when a guest's NIC joins it, but creates the directory only when it starts dnsmasq, which
# such a network never does: without it, starting that guest fails with "Failed to create file".
install -d -m 755 /var/lib/libvirt/dnsmasq

# No systemd here: start the daemons ourselves when they are not running. Zombies of killed daemons
# (PID 1 may reap them late) do not count: only live run states (running, sleeping, disk wait).
alive() { pgrep -x -r R,S,D "$1" >/dev/null; }
if ! alive virtlogd; then
  say "starting virtlogd"
  virtlogd -d
fi
if ! alive libvirtd; then
  say "starting libvirtd"
  libvirtd -d
fi
for _ in $(seq 1 50); do
  virsh -q -c qemu:///system uri >/dev/null 2>&1 && break
  sleep 0.1
done
virsh -q -c qemu:///system uri >/dev/null || { say "libvirtd does not answer on qemu:///system"; exit 1; }
say "ready: $(virsh -c qemu:///system version --daemon 2>/dev/null | sed -n 's/^Running against daemon: //p' | head -1)"
