"""Switching emulated devices to virtio: a NIC live (detach + attach, same MAC and PCI slot) and in the
persistent config; a disk's bus in the persistent config only (it takes effect at the next boot).

The config half runs first: it is cheap, touches no running guest, and if it fails nothing has
changed at all. The live half then asks the guest to release the emulated NIC, waits for it to do so,
and plugs the virtio one in; if the plug fails, the original NIC is put back. Every half is reported
as done, skipped (why) or failed (libvirt's words), see `vmtui.ops.changes`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.deviceapi import DeviceHost, DomainDocs, device_host
from vmtui.drivers.xml.devices import (
    disk_as_virtio,
    free_target,
    interface_by_mac,
    nic_as_virtio,
    target_names,
    text,
    without_runtime,
)
from vmtui.drivers.xml.read import devices_of, net_model, parse_xml
from vmtui.errors import UsageError, VmtuiError
from vmtui.models import Device, DeviceClass
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.changes import (
    PAUSED,
    RELEASE_TIMEOUT,
    RUNNING,
    DeviceChange,
    Half,
    Scopes,
    done,
    failed,
    scopes,
    skipped,
    wait_released,
)
from vmtui.ops.devices import DISK_DRIVER, NIC_DRIVER

NO_EMULATED = "no emulated NIC or disk"
"""Why --all found nothing to convert."""


@dataclass(frozen=True, slots=True)
class VirtioResult:
    """Every device one `devices virtio` call touched."""

    changes: tuple[DeviceChange, ...]
    left: tuple[str, ...] = ()
    """Devices not touched because the user cancelled after the ones in `changes`."""
    nothing: str = NO_EMULATED
    """Why nothing was to convert, when `changes` is empty (a re-run is a success that changes nothing)."""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.changes) and not self.left

    def summary(self) -> str:
        if not self.changes:
            return f"nothing to convert: {self.nothing}"
        done = "; ".join(c.summary() for c in self.changes)
        return done + (f"; cancelled before {', '.join(self.left)}" if self.left else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "changes": [c.to_json() for c in self.changes],
            "cancelled_before": list(self.left),
            "nothing_to_convert": None if self.changes else self.nothing,
        }


def _devices(docs: DomainDocs) -> list[Device]:
    """The devices of both definitions, live first (a NIC only in the config counts too)."""
    seen: dict[tuple[str, str], Device] = {}
    for doc in (docs.live, docs.config):
        for d in devices_of(parse_xml(doc)) if doc else ():
            seen.setdefault((d.kind, d.mac.lower() if d.kind == "nic" else d.name), d)
    return list(seen.values())


def _pick(docs: DomainDocs, nic: str | None, disk: str | None, every: bool) -> tuple[list[Device], str]:
    """The devices to convert, and why there is none when so; refused before any change when one named
    is not there or cannot be switched. One named that is virtio already is nothing to do, not an error:
    a script re-running the command gets exit 0 whatever form it used, as with --all."""
    devices = _devices(docs)
    if every:
        chosen = [
            d
            for d in devices
            if d.dev_class is DeviceClass.EMULATED
            and ((d.kind == "nic" and d.mac) or (d.kind == "disk" and d.flavor == "disk"))
        ]
        return chosen, NO_EMULATED
    kind, wanted = ("nic", nic) if nic is not None else ("disk", disk)
    assert wanted is not None
    low = wanted.lower()
    found = [d for d in devices if d.kind == kind and low in (d.name.lower(), d.mac.lower(), d.alias.lower())]
    if not found:
        have = ", ".join(d.mac or d.name for d in devices if d.kind == kind) or "none"
        raise UsageError(f"{docs.name} has no {kind} {wanted!r} (it has: {have})")
    dev = found[0]
    if dev.dev_class is DeviceClass.PARAVIRTUAL:
        return [], f"{'NIC' if kind == 'nic' else kind} {wanted} of {docs.name} is already {dev.model}"
    if dev.dev_class is not DeviceClass.EMULATED or (kind == "nic" and not dev.mac):
        raise UsageError(f"{kind} {wanted} of {docs.name} is {dev.model} ({dev.dev_class}): nothing to switch")
    if kind == "disk" and dev.flavor != "disk":
        raise UsageError(f"{wanted} of {docs.name} is a {dev.flavor}: virtio-blk carries disks only")
    return [dev], ""


@dataclass(frozen=True, slots=True)
class VirtioPlan:
    """What `to_virtio` would do, decided (and refused) before any change: for the question asked first."""

    docs: DomainDocs
    devices: tuple[Device, ...]
    scopes: Scopes
    nothing: str = NO_EMULATED
    """Why `devices` is empty, when it is."""

    def describe(self) -> list[str]:
        """One line per device: what changes, where, and what the guest notices."""
        running = self.docs.state_code == RUNNING
        out = []
        for d in self.devices:
            if d.kind == "nic":
                where = []
                if self.scopes.live and running:
                    where.append("live: unplugged and plugged again (same MAC, a short network outage)")
                if self.scopes.config:
                    where.append("config: virtio from the next boot")
                out.append(f"NIC {d.mac} {d.model} -> virtio; " + "; ".join(where or ["nothing applies"]))
            else:
                when = "config: from the next boot, as /dev/vdX" if self.scopes.config else "nothing (live only)"
                out.append(f"disk {d.name} {d.model} -> virtio-blk; {when}")
        return out or [f"nothing to convert: {self.nothing}"]


def plan_virtio(
    conn: Hypervisor,
    ident: str,
    *,
    nic: str | None = None,
    disk: str | None = None,
    every: bool = False,
    live: bool = False,
    config: bool = False,
) -> VirtioPlan:
    """Decide what to convert; refused here: read-only, not exactly one of nic/disk/every, an unknown or
    non-emulated device, `live` for a disk, `live` on a guest that does not run or is paused."""
    host = device_host(conn)
    conn.require_writable("convert to virtio")
    refuse_if_migrating(conn, ident, "convert to virtio")
    if sum((nic is not None, disk is not None, every)) != 1:
        raise UsageError("name one device: --nic MAC, --disk TARGET, or --all")
    docs = host.domain_docs(ident)
    plan = scopes(docs, live=live, config=config)
    chosen, nothing = _pick(docs, nic, disk, every)
    if live and any(d.kind == "disk" for d in chosen) and not every:
        raise UsageError("a disk's bus cannot change under a running guest", hint="use --config (next boot)")
    if live and chosen and docs.state_code == PAUSED:
        raise UsageError(f"{docs.name} is paused: it cannot release a NIC", hint="resume it first, or --config")
    return VirtioPlan(docs, tuple(chosen), plan, nothing)


def to_virtio(
    conn: Hypervisor,
    ident: str,
    *,
    nic: str | None = None,
    disk: str | None = None,
    every: bool = False,
    live: bool = False,
    config: bool = False,
    release_timeout: float = RELEASE_TIMEOUT,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> VirtioResult:
    """Switch a NIC (by MAC, target or alias), a disk (by target) or every emulated one to virtio.

    Without `live`/`config`: a NIC in both where they exist, a disk in the config. Refusals: see
    `plan_virtio`, which this calls first.
    """
    plan = plan_virtio(conn, ident, nic=nic, disk=disk, every=every, live=live, config=config)
    host = device_host(conn)
    if not plan.devices:
        return VirtioResult((), nothing=plan.nothing)
    cancel = cancel or never_cancelled()
    changes: list[DeviceChange] = []
    docs = plan.docs
    for i, dev in enumerate(plan.devices):
        if cancel.is_set() and changes:
            # What is done stays reported: a cancel between devices must not hide the ones changed.
            return VirtioResult(tuple(changes), tuple(d.mac or d.name for d in plan.devices[i:]))
        check_cancel(cancel, f"convert {dev.name} of {docs.name}")
        docs = host.domain_docs(docs.uuid)  # fresh: the previous device's change moved things
        if dev.kind == "nic":
            sc = plan.scopes
            changes.append(_nic(host, docs, dev, sc.live, sc.config, sc, release_timeout, progress, cancel))
        else:
            changes.append(_disk(host, docs, dev, plan.scopes.config, plan.scopes, progress))
    return VirtioResult(tuple(changes))


def _nic(
    host: DeviceHost,
    docs: DomainDocs,
    dev: Device,
    want_live: bool,
    want_config: bool,
    plan: Scopes,
    timeout: float,
    progress: Progress,
    cancel: threading.Event,
) -> DeviceChange:
    mac = dev.mac.lower()
    config_half: Half = plan.config_skip()
    live_half: Half = plan.live_skip()
    if want_config:
        iface = interface_by_mac(docs.config or "", mac)
        model = iface.find("model") if iface is not None else None
        if iface is None:
            config_half = skipped("no such NIC in the persistent config")
        elif model is not None and net_model(model.get("type", "")).startswith("virtio"):
            # A re-run after the live half failed: updating it again would change nothing, yet say done.
            config_half = skipped("already virtio in the persistent config")
        else:
            progress(Step(f"{docs.name}: NIC {mac} -> virtio in the persistent config"))
            try:
                host.update_device(docs.uuid, text(nic_as_virtio(iface)), live=False, config=True)
                config_half = done("virtio from the next boot")
            except VmtuiError as exc:
                config_half = failed(exc.message)
                live_half = skipped("not attempted: the config half failed") if want_live else live_half
                want_live = False
    if want_live:
        if docs.state_code != RUNNING:
            live_half = skipped("the guest is not running: it cannot release the NIC now")
        else:
            live_half = _nic_live(host, docs, mac, timeout, progress, cancel)
    notes = (f"the guest needs {NIC_DRIVER}; the MAC stays {mac}, the guest may name the NIC anew",)
    return DeviceChange(
        host.uri, docs.name, docs.uuid, "virtio-nic", mac, dev.model, "virtio", live_half, config_half, notes
    )


def _nic_live(
    host: DeviceHost, docs: DomainDocs, mac: str, timeout: float, progress: Progress, cancel: threading.Event
) -> Half:
    iface = interface_by_mac(docs.live or "", mac)
    if iface is None:
        return skipped("the running guest has no such NIC")
    alias_el = iface.find("alias")
    alias = alias_el.get("name") if alias_el is not None else None
    if not alias:
        return failed("libvirt gave the live NIC no alias to detach it by")
    original, virtio = text(without_runtime(iface)), text(nic_as_virtio(iface))
    progress(Step(f"{docs.name}: asking the guest to release NIC {mac} ({alias})"))
    try:
        host.detach_alias(docs.uuid, alias, live=True, config=False)
    except VmtuiError as exc:
        return failed(f"detach: {exc.message}")
    progress(Step(f"{docs.name}: waiting up to {timeout:g} s for the guest to release {mac}"))
    released = wait_released(
        host, docs.uuid, lambda live: interface_by_mac(live, mac) is not None, timeout=timeout, cancel=cancel
    )
    if not released:
        waited = (
            "the wait was cancelled" if cancel.is_set() else f"the guest did not release NIC {mac} within {timeout:g} s"
        )
        return failed(
            f"{waited}; QEMU keeps the unplug request, and if the guest releases it later the NIC is gone "
            "until the next boot"
        )
    progress(Step(f"{docs.name}: plugging in the virtio NIC with MAC {mac}"))
    try:
        host.attach_device(docs.uuid, virtio, live=True, config=False)
    except VmtuiError as exc:
        try:
            host.attach_device(docs.uuid, original, live=True, config=False)
        except VmtuiError as undo:
            return failed(f"attach virtio: {exc.message}; putting the original NIC back failed: {undo.message}")
        return failed(f"attach virtio: {exc.message}; the original NIC was put back")
    return done("detached and attached again as virtio, same MAC and PCI slot")


def _disk(
    host: DeviceHost, docs: DomainDocs, dev: Device, want_config: bool, plan: Scopes, progress: Progress
) -> DeviceChange:
    live_half = skipped("a disk's bus cannot change under a running guest") if docs.live else plan.live_skip()
    if not want_config or docs.config is None:
        return DeviceChange(
            host.uri, docs.name, docs.uuid, "virtio-disk", dev.name, dev.model, "virtio-blk", live_half,
            plan.config_skip() if docs.config else skipped("transient domain: no persistent config"),
        )  # fmt: skip
    if dev.name not in target_names([docs.config]):
        # The running guest still has it on the old bus; the definition moved it already (a re-run).
        return DeviceChange(
            host.uri, docs.name, docs.uuid, "virtio-disk", dev.name, dev.model, "virtio-blk", live_half,
            skipped(f"the persistent config has no disk {dev.name}: moved to virtio there already?"),
        )  # fmt: skip
    new_target = free_target([d for d in (docs.live, docs.config) if d])
    progress(Step(f"{docs.name}: disk {dev.name} -> virtio-blk {new_target} in the persistent config"))
    try:
        host.redefine(docs.uuid, disk_as_virtio(docs.config, dev.name, new_target))
        config_half = done(f"virtio-blk as {new_target} from the next boot")
    except VmtuiError as exc:
        config_half = failed(exc.message)
    notes = (
        f"at the next boot the guest sees /dev/{new_target} instead of /dev/{dev.name}: fstab and boot entries "
        "naming the device break (UUID= and LABEL= keep working)",
        f"the guest needs {DISK_DRIVER}; a Windows guest without it stops with INACCESSIBLE_BOOT_DEVICE",
    )
    return DeviceChange(
        host.uri, docs.name, docs.uuid, "virtio-disk", dev.name, dev.model, f"virtio-blk ({new_target})",
        live_half, config_half, notes, {"target": new_target},
    )  # fmt: skip
