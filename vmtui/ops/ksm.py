"""KSM on a host: what it saves and what it costs, its tunables, on/off, the per-guest opt-out, the policy.

Counters and tunables come through libvirt's node memory parameters (they work over any URI);
`run`, `general_profit`, ksmd's CPU time and each QEMU's merged pages are not there and come from
the host's own files (`hostfiles`: locally, or through the SSH of the host's URI). KSM is one per
kernel: every change here changes it for every guest of the host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from vmtui.drivers.hostfiles import HostFiles, check_path, host_files
from vmtui.errors import OperationError, UsageError, VmtuiError
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.ksm_policy import KsmInputs, KsmKnobs, KsmPlan, plan_ksm
from vmtui.ops.memory import MemoryHost

KSM_DIR = "/sys/kernel/mm/ksm"
COUNTERS = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile", "full_scans")
TUNABLES = ("pages_to_scan", "sleep_millisecs", "merge_across_nodes")
SYSFS_ONLY = ("run", "general_profit", "ksm_zero_pages")
RUN_MODES = {"off": 0, "on": 1, "unmerge": 2}
RUN_NAMES = {0: "stopped", 1: "running", 2: "unmerging"}
LIMITS = {"pages_to_scan": (1, 100_000), "sleep_millisecs": (1, 60_000), "merge_across_nodes": (0, 1)}
"""What `ksm tune` accepts: sleep 0 would make ksmd spin a core; more than 100000 pages a scan is a hog."""


KsmHost = MemoryHost


@dataclass(frozen=True, slots=True)
class VmKsm:
    """One guest's part in KSM (`/proc/<qemu pid>/ksm_merging_pages` and `ksm_stat`)."""

    name: str
    uuid: str
    merging_pages: int | None
    profit_bytes: int | None
    """The kernel's `ksm_process_profit`: bytes saved less the bookkeeping KSM spends on this process."""


@dataclass(frozen=True, slots=True)
class KsmStatus:
    """KSM of one host at one moment, with ksmd's CPU over the interval it was measured on."""

    host: str
    wall: float
    run: int | None
    """0 stopped, 1 running, 2 unmerging; None when the host's files cannot be read."""
    counters: Mapping[str, int]
    """pages_shared, pages_sharing, pages_unshared, pages_volatile, full_scans, and the tunables."""
    page_kib: int
    general_profit_bytes: int | None
    ksmd_cpu_pct: float | None
    """ksmd's CPU time over the measuring interval, % of one core (its cost)."""
    ksmd_runtime_ns: int | None
    monotonic: float
    vms: tuple[VmKsm, ...] = ()
    ksmtuned: bool | None = None
    """ksmtuned runs on the host: it will overwrite what vmtui sets."""
    notes: tuple[str, ...] = field(default=())

    def get(self, key: str) -> int | None:
        return self.counters.get(key)

    @property
    def saved_bytes(self) -> int | None:
        """`pages_sharing` x page size: the pages that no longer need a frame of their own."""
        sharing = self.counters.get("pages_sharing")
        return None if sharing is None else sharing * self.page_kib * 1024

    @property
    def sharing_ratio(self) -> float | None:
        """pages_sharing / pages_shared: how many guests' pages each merged page serves."""
        shared, sharing = self.counters.get("pages_shared"), self.counters.get("pages_sharing")
        return sharing / shared if shared and sharing is not None else None

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["counters"] = dict(self.counters)
        body.update(
            run_state=RUN_NAMES.get(self.run, "unknown") if self.run is not None else "unknown",
            saved_bytes=self.saved_bytes,
            sharing_ratio=self.sharing_ratio,
        )
        return body


def _int(text: str | None) -> int | None:
    try:
        return int(text.split()[0]) if text else None
    except ValueError:
        return None


def _files(conn: KsmHost) -> tuple[HostFiles | None, str | None]:
    try:
        return host_files(conn.uri), None
    except VmtuiError as exc:
        return None, f"host files not reachable: {exc.message}"


def _runtime_ns(files: HostFiles, pid: int | None) -> int | None:
    """ksmd's CPU time so far: /proc/PID/schedstat's first field, in ns."""
    if pid is None:
        return None
    return _int(files.read(f"/proc/{pid}/schedstat"))


def read_status(
    conn: KsmHost,
    host: str,
    *,
    interval: float = 1.0,
    per_vm: bool = True,
    sleep: Callable[[float], Any] = time.sleep,
) -> KsmStatus:
    """KSM now; with `interval` > 0, ksmd's CPU is measured over that many seconds."""
    notes: list[str] = []
    counters = dict(conn.ksm_parameters())
    if not counters:
        notes.append("libvirt gives no KSM parameters on this host")
    files, why = _files(conn)
    run = profit = ksmd_ns = None
    cpu: float | None = None
    vms: tuple[VmKsm, ...] = ()
    tuned: bool | None = None
    started = time.monotonic()
    if files is None:
        notes.append(str(why))
    else:
        try:
            wanted = [f"{KSM_DIR}/{k}" for k in (*SYSFS_ONLY, *COUNTERS, *TUNABLES)]
            sysfs = files.read_many(wanted)
            if sysfs[f"{KSM_DIR}/run"] is None:
                notes.append(f"{KSM_DIR} is not readable on this host (no KSM in its kernel?)")
            run = _int(sysfs[f"{KSM_DIR}/run"])
            profit = _int(sysfs[f"{KSM_DIR}/general_profit"])
            for key in (*COUNTERS, *TUNABLES):
                value = _int(sysfs[f"{KSM_DIR}/{key}"])
                if key not in counters and value is not None:
                    counters[key] = value  # libvirt lacks it here: the file says the same
            pids = files.pids_of("ksmd")
            tuned = bool(files.pids_of("ksmtuned"))
            ksmd = pids[0] if pids else None
            ksmd_ns = _runtime_ns(files, ksmd)
            started = time.monotonic()
            if interval > 0 and ksmd_ns is not None:
                sleep(interval)
                later = _runtime_ns(files, ksmd)
                elapsed = time.monotonic() - started
                if later is not None and elapsed > 0:
                    cpu = max(0.0, (later - ksmd_ns) / (elapsed * 1e9) * 100)
                    ksmd_ns, started = later, time.monotonic()
            if per_vm:
                vms = _per_vm(conn, files)
        except VmtuiError as exc:
            notes.append(f"host files: {exc.message}")
    return KsmStatus(
        host=host,
        wall=time.time(),
        run=run,
        counters=counters,
        page_kib=conn.base_page_kib(),
        general_profit_bytes=profit,
        ksmd_cpu_pct=cpu,
        ksmd_runtime_ns=ksmd_ns,
        monotonic=started,
        vms=vms,
        ksmtuned=tuned,
        notes=tuple(notes),
    )


def ksmd_cpu_between(prev: KsmStatus | None, cur: KsmStatus) -> float | None:
    """ksmd's CPU % of one core between two readings (the TUI's history reads once per refresh)."""
    if prev is None or prev.ksmd_runtime_ns is None or cur.ksmd_runtime_ns is None:
        return cur.ksmd_cpu_pct
    elapsed = cur.monotonic - prev.monotonic
    if elapsed <= 0 or cur.ksmd_runtime_ns < prev.ksmd_runtime_ns:
        return None
    return (cur.ksmd_runtime_ns - prev.ksmd_runtime_ns) / (elapsed * 1e9) * 100


def _per_vm(conn: KsmHost, files: HostFiles) -> tuple[VmKsm, ...]:
    """Merged pages per running guest, from its QEMU's /proc files (the pid from libvirt's pidfile)."""
    running = [d for d in conn.list_domains() if d.state == "running"]
    paths: dict[str, str] = {}
    for d in running:
        try:
            paths[d.uuid] = check_path(f"/run/libvirt/qemu/{d.name}.pid")
        except UsageError:
            continue  # a name no path may carry: its pages stay unknown
    pid_text = files.read_many(list(paths.values())) if paths else {}
    pids = {uuid: _int(pid_text.get(path)) for uuid, path in paths.items()}
    proc = [f"/proc/{pid}/{f}" for pid in pids.values() if pid for f in ("ksm_merging_pages", "ksm_stat")]
    text = files.read_many(proc) if proc else {}
    out = []
    for d in running:
        pid = pids.get(d.uuid)
        merging = _int(text.get(f"/proc/{pid}/ksm_merging_pages")) if pid else None
        stat = (text.get(f"/proc/{pid}/ksm_stat") or "").split() if pid else []
        fields = dict(zip(stat[::2], stat[1::2], strict=False))
        out.append(VmKsm(d.name, d.uuid, merging, _int(fields.get("ksm_process_profit"))))
    return tuple(out)


# ----- changes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KsmChanged:
    """What a KSM change did: each knob before and after, and what the user should know."""

    host: str
    before: Mapping[str, int | None]
    after: Mapping[str, int | None]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "before": dict(self.before), "after": dict(self.after), "warnings": self.warnings}


def _ksmtuned_warning(files: HostFiles | None) -> tuple[str, ...]:
    try:
        if files is not None and files.pids_of("ksmtuned"):
            return ("ksmtuned runs on this host and will overwrite these values; stop it to keep them",)
    except VmtuiError:
        pass
    return ()


def tune(
    conn: KsmHost,
    host: str,
    *,
    pages_to_scan: int | None = None,
    sleep_ms: int | None = None,
    merge_across_nodes: int | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> KsmChanged:
    """Set KSM tunables through libvirt; every value is checked before the one call that sets them."""
    wanted = {
        k: v
        for k, v in (
            ("pages_to_scan", pages_to_scan),
            ("sleep_millisecs", sleep_ms),
            ("merge_across_nodes", merge_across_nodes),
        )
        if v is not None
    }
    if not wanted:
        raise UsageError("nothing to tune", hint="give --pages-to-scan, --sleep-ms or --merge-across-nodes")
    for key, value in wanted.items():
        low, high = LIMITS[key]
        if not low <= value <= high:
            raise UsageError(f"{key} must be from {low} to {high}, not {value}")
    conn.require_writable("tune KSM")
    before = dict(conn.ksm_parameters())
    if not before:
        raise OperationError(f"{host}: libvirt cannot tune KSM here (no node memory parameters)")
    merge = wanted.get("merge_across_nodes")
    if merge is not None and merge != before.get("merge_across_nodes") and before.get("pages_shared"):
        # The kernel refuses it (EBUSY) while anything is merged.
        raise OperationError(
            f"{host}: merge_across_nodes can change only while no page is merged "
            f"({before['pages_shared']} are shared now)",
            hint="unmerge first: `vmtui ksm off --unmerge`, wait for pages_shared 0, then tune",
        )
    check_cancel(cancel or never_cancelled(), "tune KSM")
    progress(Step(f"{host}: setting {', '.join(f'{k}={v}' for k, v in wanted.items())}"))
    conn.set_ksm_parameters(wanted)
    after = dict(conn.ksm_parameters())
    files, _ = _files(conn)
    return KsmChanged(
        host, {k: before.get(k) for k in wanted}, {k: after.get(k) for k in wanted}, _ksmtuned_warning(files)
    )


def set_run(
    conn: KsmHost,
    host: str,
    mode: str,
    *,
    files: HostFiles | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> KsmChanged:
    """KSM on (run=1), off (run=0: merged pages stay merged) or unmerge (run=2), through the host's sysfs."""
    if mode not in RUN_MODES:
        raise UsageError(f"KSM run mode must be one of {', '.join(RUN_MODES)}, not {mode!r}")
    conn.require_writable(f"KSM {mode}")
    if files is None:
        files = host_files(conn.uri)
    path = f"{KSM_DIR}/run"
    before = _int(files.read(path))
    if before is None:
        raise OperationError(f"{host}: {path} is not readable (no KSM in this kernel?)")
    check_cancel(cancel or never_cancelled(), f"KSM {mode}")
    progress(Step(f"{host}: {path} {before} -> {RUN_MODES[mode]}"))
    files.write(path, str(RUN_MODES[mode]))
    after = _int(files.read(path))
    return KsmChanged(host, {"run": before}, {"run": after}, _ksmtuned_warning(files))


@dataclass(frozen=True, slots=True)
class OptOut:
    host: str
    name: str
    opt_out: bool
    changed: bool
    note: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def set_opt_out(conn: KsmHost, host: str, ident: str, *, opt_out: bool) -> OptOut:
    """`<nosharepages/>` in the guest's definition (Proxmox's "Allow KSM" off); read by QEMU at start."""
    conn.require_writable("KSM opt-out" if opt_out else "KSM opt-in")
    changed = conn.set_nosharepages(ident, opt_out=opt_out)
    name = next((d.name for d in conn.list_domains() if ident in (d.name, d.uuid)), ident)
    what = "excluded from" if opt_out else "allowed in"
    note = f"{name} is {what} KSM from its next start" if changed else f"{name} was already {what} KSM"
    return OptOut(host, name, opt_out, changed, note)


# ----- the policy on a live host ------------------------------------------------------------------


def policy_inputs(conn: KsmHost, status: KsmStatus) -> KsmInputs:
    mem = conn.node_memory()
    shareable = 0
    for d in conn.list_domains():
        if d.state == "running":
            shareable += conn.balloon_reading(d.uuid).stats.get("actual", d.memory_kib)
    return KsmInputs(
        total_kib=mem["total"],
        free_kib=mem.get("free", 0) + mem.get("buffers", 0) + mem.get("cached", 0),
        shareable_kib=shareable,
        run=status.run if status.run is not None else 0,
        pages_to_scan=status.get("pages_to_scan") or 100,
        sleep_ms=status.get("sleep_millisecs") or 20,
    )


def plan_host(conn: KsmHost, host: str, knobs: KsmKnobs) -> tuple[KsmStatus, KsmPlan]:
    status = read_status(conn, host, interval=0, per_vm=False)
    if status.run is None:
        raise OperationError(f"{host}: KSM's run state cannot be read", hint="; ".join(status.notes) or None)
    return status, plan_ksm(policy_inputs(conn, status), knobs)


@dataclass(frozen=True, slots=True)
class KsmPolicyRun:
    steps: int
    changes: int
    last_plan: KsmPlan | None

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "changes": self.changes,
            "last_plan": self.last_plan.to_json() if self.last_plan else None,
        }


def apply_policy(
    conn: KsmHost,
    host: str,
    knobs: KsmKnobs,
    *,
    interval: float,
    count: int | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> KsmPolicyRun:
    """Plan and apply every `interval` s, `count` times (None: until cancelled); each change reported."""
    cancel = cancel or never_cancelled()
    conn.require_writable("KSM policy")
    files = host_files(conn.uri)
    steps = changes = 0
    plan: KsmPlan | None = None
    while count is None or steps < count:
        check_cancel(cancel, "KSM policy")
        _status, plan = plan_host(conn, host, knobs)
        steps += 1
        progress(Step(f"step {steps}: {plan.why}", data={"plan": plan.to_json()}))
        check_cancel(cancel, "KSM policy")
        tunables = {c.knob: c.new for c in plan.changes if c.knob != "run"}
        if tunables:  # one libvirt call for both, before ksmd is (re)started with them
            conn.set_ksm_parameters(tunables)
        for change in plan.changes:
            if change.knob == "run":
                files.write(f"{KSM_DIR}/run", str(change.new))
            progress(Step(f"{change.knob}: {change.old} -> {change.new} ({change.why})"))
        changes += len(plan.changes)
        if count is not None and steps >= count:
            break
        if cancel.wait(interval):
            check_cancel(cancel, "KSM policy")
    return KsmPolicyRun(steps, changes, plan)
