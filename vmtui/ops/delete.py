"""`vmtui delete`: undefine a domain for good, with (`--storage`) the volumes only it uses.

Built on `ops.xml`'s undefine (the same flags: managed save image, snapshot and checkpoint metadata
and NVRAM go with the definition, so libvirt never refuses for them). Where `virsh undefine` leaves a
running domain running on as a transient one, `delete` means the domain is gone: a running domain is
refused, and `--force` forces it off first (`virsh destroy` then `virsh undefine`). A volume another
domain still needs (the base of a template's linked clones) is kept and named, whatever is asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.provision import provisioner
from vmtui.errors import OperationError
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.xml import UndefinePlan, shared_of, unchanged_since


@dataclass(frozen=True, slots=True)
class DeletePlan:
    undefine: UndefinePlan
    force: bool
    """Force a running domain off first."""
    bases: tuple[str, ...] = ()
    """The backing files of the volumes it removes (a linked clone's template volume): never removed."""

    def removed_and_kept(self) -> list[str]:
        """The volumes that go and those that stay, with why, one line each (the TUI's question)."""
        lines = [f"Removed: {d.source or d.target}" for d in self.undefine.volumes]
        lines += [f"Kept: {why}" for why in self.undefine.kept_text()]
        lines += [f"Kept: {base} (the base it was cloned from: only its template's)" for base in self.bases]
        return lines

    def question(self) -> str:
        f = self.undefine.facts
        parts = [f"Delete {f.name} on {self.undefine.host}?"]
        if f.active:
            parts.append("It is running: it is forced off first (like pulling the plug).")
        return " ".join(parts + self.undefine.details())

    def to_json(self) -> dict[str, object]:
        return {"action": "delete", **self.undefine.to_json(), "forced_off": self.undefine.facts.active}


def plan_delete(
    conn: Hypervisor, ident: str, *, storage: bool = False, force: bool = False, host: str = ""
) -> DeletePlan:
    """What deleting would remove and keep (for the question); refused before any change."""
    conn.require_writable("delete")
    facts = conn.undefine_facts(ident)
    refuse_if_migrating(conn, facts.uuid, "delete", name=facts.name)
    if not facts.persistent:
        raise OperationError(
            f"delete {facts.name}: it is transient (no definition): it is gone once it stops",
            hint=f"vmtui destroy {facts.name}",
        )
    if facts.active and not force:
        raise OperationError(
            f"delete {facts.name}: it is running",
            hint="shut it down first, or --force to force it off and delete it",
        )
    shared = shared_of(conn, facts, storage)
    undefine = UndefinePlan(host or conn.uri, facts, False, storage, shared)
    return DeletePlan(undefine, force, _bases(conn, undefine))


def _bases(conn: Hypervisor, plan: UndefinePlan) -> tuple[str, ...]:
    """The backing files of the volumes `plan` removes: libvirt deletes an overlay, never its base."""
    if not plan.volumes:
        return ()
    prov = provisioner(conn, "delete")
    found = (prov.volume_at(d.source) for d in plan.volumes if d.source)
    return tuple(sorted({v.backing for v in found if v is not None and v.backing}))


def delete(
    conn: Hypervisor,
    plan: DeletePlan,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> DeletePlan:
    """Carry out a plan the user agreed to; refused when the domain changed since (its disks, who else
    needs its volumes, or it started when it was not to be forced off)."""
    conn.require_writable("delete")
    stop = cancel or never_cancelled()
    facts = plan.undefine.facts
    now = unchanged_since(conn, plan.undefine, state_too=not plan.force)
    check_cancel(stop, f"delete {facts.name}")
    if now.active:
        progress(Step(f"forcing off {facts.name}"))
        # No cancel from here on: a domain forced off and left defined would be neither kept nor deleted.
        conn.lifecycle(facts.uuid, "destroy")
    progress(Step(f"undefining {facts.name}"))
    conn.undefine(facts.uuid, volumes=plan.undefine.volumes)
    return plan
