"""Lifecycle actions: which state allows which, which ones ask first, and running one.

The CLI's `vmtui destroy` and the TUI's `x` share this table and this function: the same refusal
in the same words, before any call that would change the host.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from vmtui.drivers.base import Hypervisor
from vmtui.errors import NotFoundError, OperationError, VmtuiError
from vmtui.models import DomainInfo, HostEntry
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating

log = logging.getLogger("vmtui.ops")


@dataclass(frozen=True, slots=True)
class LifecycleAction:
    key: str
    """The action's name, as libvirt's driver and the CLI command call it."""
    label: str
    """How the UI names it ("Force off")."""
    binding: str
    """The TUI key."""
    pending: str
    """What the row shows while it runs ("pausing…")."""
    destructive: bool
    """Asks for confirmation first: it stops or restarts what runs inside the guest."""
    allowed_states: tuple[str, ...]
    help: str
    key_label: str = ""
    """The footer's word for the key, short enough for 80 columns (defaults to `label`)."""
    in_footer: bool = True
    """Shown in the TUI's footer (80 columns hold only so many); the key works either way."""
    persistent_only: bool = False
    """Only a defined domain can do it (a transient one has nowhere to keep a saved state)."""
    asks_the_guest: bool = False
    """libvirt only passes the request on (ACPI): the call returns before the guest acts, or if it never does."""


ACTIONS: tuple[LifecycleAction, ...] = (
    LifecycleAction("start", "Start", "u", "starting…", False, ("shut-off", "crashed"), "Start a defined domain."),
    LifecycleAction(
        "shutdown",
        "Shut down",
        "d",
        "shutting down…",
        True,
        ("running", "blocked", "paused"),
        "Ask the guest to shut down (ACPI).",
        key_label="Shutdown",
        asks_the_guest=True,
    ),
    LifecycleAction(
        "reboot",
        "Reboot",
        "b",
        "rebooting…",
        True,
        ("running", "blocked"),
        "Ask the guest to reboot.",
        asks_the_guest=True,
    ),
    LifecycleAction(
        "destroy",
        "Force off",
        "x",
        "forcing off…",
        True,
        ("running", "blocked", "paused", "shutting-down", "pmsuspended", "crashed"),
        "Force off immediately (like pulling the plug; the definition stays).",
        key_label="Off",
    ),
    LifecycleAction("suspend", "Pause", "p", "pausing…", False, ("running", "blocked"), "Pause the domain's vCPUs."),
    LifecycleAction("resume", "Resume", "r", "resuming…", False, ("paused",), "Resume a paused domain."),
    # Not destructive: nothing is lost, and `start` restores the guest where it was.
    LifecycleAction(
        "save",
        "Save",
        "z",
        "saving…",
        False,
        ("running", "blocked", "paused"),
        "Managed save: write the guest's memory to the host's disk and stop it; `start` restores it.",
        persistent_only=True,
        in_footer=False,
    ),
)
BY_KEY = {a.key: a for a in ACTIONS}


TEMPLATE_REFUSAL = "it is a template: clone it"
"""A template's disks are the base of its linked clones: started, it would write to them under the clones."""


def refusal(action: LifecycleAction, state: str, *, persistent: bool = True, template: bool = False) -> str | None:
    """Why `action` cannot run on a domain in `state` (a `template` is never started), or None when it can."""
    if template and action.key == "start":
        return TEMPLATE_REFUSAL
    if action.persistent_only and not persistent:
        return f"it is transient ({action.label.lower()} needs a defined domain)"
    if state in action.allowed_states:
        return None
    return f"it is {state} ({action.label.lower()} needs {' or '.join(action.allowed_states)})"


def question(action: LifecycleAction, name: str, host: str) -> str:
    """The question asked before a destructive action (names go in as they are: faces show them literally)."""
    return f"{action.label} {name} on {host}?"


def requested(action: LifecycleAction, name: str) -> str:
    """What was done by an action that only asks the guest: the request, not its outcome."""
    return f"{action.label} {name}: requested; the guest decides"


def has_saved_state(conn: Hypervisor, ident: str) -> bool:
    """A managed save image waits on the host: `start` restores the guest from it (a recording has none)."""
    # Imported here: the CLI imports this module to name its commands, and `vmtui list` must not pay for
    # the resource types.
    from vmtui.drivers.resources import ResourceHost

    return isinstance(conn, ResourceHost) and conn.has_managed_save(ident)


# ----- one UUID, one running copy ----------------------------------------------------------------
#
# libvirt keeps no cluster-wide lock: after `migrate --temporary` the source still holds the definition,
# and nothing in libvirt stops `start` there while the guest runs on the target (virtlockd or sanlock
# would, only where a lock space is shared). Proxmox (one config file per VM, owned by one node of the
# cluster filesystem) and oVirt (the engine refuses to run a VM that is up anywhere) have no override for
# this, and neither does vmtui: to start here, stop the other copy first. A host that does not answer
# cannot be asked; vmtui has no fencing to tell a dead host from a slow one, and refusing every start
# while any saved host is down would make one dead host stop the rest, so the start goes ahead and
# says which hosts could not be checked.

MAKES_IT_RUN = frozenset({"start", "resume"})
"""Actions after which the domain's vCPUs run here: start (also a restore from a managed save), resume."""
PEER_CHECK_TIMEOUT = 5.0
"""Seconds the other hosts get, all together (asked in parallel), to say whether the UUID runs there."""

Connector = Callable[[HostEntry], Hypervisor]


def peer_hosts(here: HostEntry, watched: Iterable[HostEntry]) -> list[HostEntry]:
    """The hosts to ask before `here` runs a domain: the watched ones and every saved one, but `here`.

    Opened read-only: only asked, never changed. A saved host that cannot be read is skipped (the
    command's own hosts were already read, and hosts.toml errors are reported where it is loaded).
    """
    from vmtui.config import HostStore  # here: `vmtui list` imports this module and needs no hosts file

    try:
        saved = HostStore().load()
    except VmtuiError as exc:
        log.info("saved hosts not read for the running-elsewhere check: %s", exc)
        saved = []
    peers: dict[str, HostEntry] = {}
    for entry in (*watched, *saved):
        if entry.name == here.name or entry.uri == here.uri or entry.uri in peers:
            continue
        peers[entry.uri] = replace(entry, read_only=True)
    return list(peers.values())


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """What the other hosts said about one UUID."""

    running: tuple[str, ...] = ()
    """Hosts where it is active (running, paused, or the incoming half of a migration)."""
    unchecked: tuple[tuple[str, str], ...] = ()
    """(host, why) for hosts that could not be asked in time."""


PEER_CHECK_PER_DOMAIN = 0.05
"""Seconds more per UUID asked (one lookup each over the peer's one connection)."""


def runs_elsewhere(
    uuids: Sequence[str],
    here_uri: str,
    peers: Sequence[HostEntry],
    connector: Connector,
    *,
    timeout: float = PEER_CHECK_TIMEOUT,
) -> dict[str, Elsewhere]:
    """Ask every peer, in parallel, whether each of `uuids` is active there: one connection per peer
    for all of them (a bulk start of 200 guests opens one per peer, not 200), for at most `timeout`
    seconds plus `PEER_CHECK_PER_DOMAIN` per UUID after the first.

    A peer that does not answer in time is left to finish on a daemon thread (it closes its own
    connection) and reported unchecked for every UUID: it never holds the caller past the deadline.
    """
    answers: queue.Queue[tuple[str, frozenset[str] | None, str]] = queue.Queue()
    """(peer, the UUIDs active there or None when it could not be asked, why not)."""

    def ask(entry: HostEntry) -> None:
        try:
            with connector(entry) as peer:
                if peer.uri == here_uri:  # an alias of this very host
                    answers.put((entry.name, frozenset(), ""))
                    return
                active = set()
                for uuid in uuids:
                    try:
                        if peer.domain(uuid).id is not None:
                            active.add(uuid)
                    except NotFoundError:
                        pass
                answers.put((entry.name, frozenset(active), ""))
        except VmtuiError as exc:
            answers.put((entry.name, None, exc.message))
        except Exception as exc:  # never let one host's surprise stop the answer; logged with its traceback
            log.exception("running-elsewhere check on %s failed", entry.name)
            answers.put((entry.name, None, f"internal error: {exc.__class__.__name__}"))

    for entry in peers:
        threading.Thread(target=ask, args=(entry,), name=f"peer check {entry.name}", daemon=True).start()
    allowed = timeout + PEER_CHECK_PER_DOMAIN * max(0, len(uuids) - 1)
    deadline = time.monotonic() + allowed
    said: dict[str, tuple[frozenset[str] | None, str]] = {}
    while len(said) < len(peers):
        try:
            name, active, why = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        said[name] = (active, why)
    unchecked = tuple(
        (e.name, said[e.name][1] if e.name in said else f"no answer within {allowed:g} s")
        for e in peers
        if said.get(e.name, (None, ""))[0] is None
    )
    return {
        uuid: Elsewhere(tuple(e.name for e in peers if uuid in (said.get(e.name, (None, ""))[0] or ())), unchecked)
        for uuid in uuids
    }


def refuse_if_running_elsewhere(
    info: DomainInfo,
    here_uri: str,
    peers: Sequence[HostEntry],
    connector: Connector,
    *,
    doing: str = "starting",
    progress: Progress = no_progress,
    timeout: float = PEER_CHECK_TIMEOUT,
    found: Elsewhere | None = None,
) -> None:
    """Refuse (OperationError) to make `info` run here while its UUID is active on a peer.

    `found`: the peers' answer already asked (a bulk start asks once for all its domains); without
    it the peers are asked now. Hosts that could not be asked are reported as `warning` steps, and
    do not stop the action.
    """
    if found is None:
        if not peers:
            return
        found = runs_elsewhere([info.uuid], here_uri, peers, connector, timeout=timeout)[info.uuid]
    if found.running:
        where = " and ".join(found.running)
        raise OperationError(
            f"{info.name} already runs on {where} (same UUID): {doing} it here would run it twice",
            hint=f"stop it on {where} first, or migrate it back",
        )
    for host, why in found.unchecked:
        progress(
            Step(
                f"{host} could not be checked for a running copy of {info.name}: {why}",
                data={"type": "warning", "host": host, "reason": why},
            )
        )


def refuse(conn: Hypervisor, spec: LifecycleAction, info: DomainInfo) -> None:
    """OperationError when the domain cannot take `spec` now: a migration holds it, or its state
    forbids it. Asked before any question and any change (the CLI asks it before its confirmation)."""
    if spec.key != "destroy":  # a force-off ends any job (QEMU is killed): the way out when all else hangs
        refuse_if_migrating(conn, info.uuid, spec.label.lower(), name=info.name)
    why = refusal(spec, info.state, persistent=info.persistent, template=info.template)
    if why is not None:
        raise OperationError(f"{spec.label.lower()} {info.name}: {why}")


def run(
    conn: Hypervisor,
    ident: str,
    action: str,
    *,
    peers: Sequence[HostEntry] = (),
    connector: Connector | None = None,
    elsewhere: Elsewhere | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DomainInfo:
    """Run one lifecycle action; refused before any change when the host or the domain's state forbids it.

    `peers` (see `peer_hosts`) are asked first, with `connector`, whether the domain already runs
    there, before a start or resume: the same UUID never runs twice through vmtui. `elsewhere` is
    their answer when it was already asked (`runs_elsewhere` for many domains at once).
    Returns the domain's facts after the call. Raises DeniedError (read-only), NotFoundError,
    OperationError (state does not allow it, it runs elsewhere, or libvirt refused), UserCancelledError.
    """
    spec = BY_KEY[action]
    conn.require_writable(action)
    info = conn.domain(ident)
    refuse(conn, spec, info)
    if action in MAKES_IT_RUN:
        doing = "resuming" if action == "resume" else "starting"
        refuse_if_running_elsewhere(
            info, conn.uri, peers, connector or open_peer, doing=doing, progress=progress, found=elsewhere
        )
    check_cancel(cancel or never_cancelled(), f"{spec.label.lower()} {info.name}")
    if action == "start" and has_saved_state(conn, info.uuid):
        progress(Step(f"restoring {info.name} from its saved state"))
    else:
        progress(Step(f"{spec.pending} {info.name}"))
    after = conn.lifecycle(info.uuid, action)
    # None: a transient domain that stopped is gone with its run; it stopped, as asked.
    return after if after is not None else replace(info, state="shut-off", id=None)


def open_peer(entry: HostEntry) -> Hypervisor:
    from vmtui.drivers import open_host

    return open_host(entry.uri or None, read_only=True)
