"""How a migration ended, decided from where the domain is afterwards, and the hint that follows its cause.

`decide` never takes the call's return for the end (RELIABILITY #23): the source runs it -> failed or
cancelled; it left and the target holds the whole guest -> completed; the facts cannot tell (the source
did not answer, the target holds only the incoming half) -> unknown, settled later (RELIABILITY #30).
"""

from __future__ import annotations

from typing import Any

from vmtui.errors import ConnectError, DeniedError
from vmtui.models import DomainPresence
from vmtui.ops.migrate.job import Facts, JobRun

P2P_HINT = (
    "peer-to-peer: the source host's libvirtd connects to the target itself, with its own SSH keys "
    "and name resolution; check that `virsh -c TARGET_URI list` works on the source host"
)
PEER_CONNECT_WORDS = (
    "failed to connect to remote libvirt uri",  # libvirt's p2p open of the target (qemu_migration.c)
    "cannot recv data",
    "unable to connect to server",
    "authentication failed",
    "host key verification failed",
    "no route to host",
    "connection refused",
)
"""What libvirt says when the source daemon could not reach or log in to the target's daemon."""
ABORT_WORDS = ("canceled by client", "cancelled by client", "operation aborted")
"""An abort (this vmtui's, another vmtui's, `virsh domjobabort`): the message says it all."""
QEMU_WORDS = ("qemu unexpectedly", "qemu command", "monitor", "job 'migration out' failed", "unexpectedly failed")
"""QEMU stopped the job (its migration stream or its process failed): QEMU's log tells why. (Not "qemu"
alone: every qemu+ssh URI in a message has it.)"""
QEMU_HINT = "QEMU failed the job: its log on each host says why (/var/log/libvirt/qemu/{name}.log)"
SILENT_WORDS = ("end of file while reading data",)
"""libvirt's call ended with the peer connection it closed, no reason given: a QEMU that died on either
side, or the target daemon giving up; the logs say which."""
SILENT_HINT = (
    "libvirt gave no reason: the libvirtd log of each host and the domain's QEMU log "
    "(/var/log/libvirt/qemu/{name}.log) say why"
)


def where(presence: Any, error: str | None) -> str:
    if presence is None:
        return f"unknown ({error})"
    if not presence.exists:
        return "absent"
    return f"{presence.state} ({presence.reason})" if presence.reason else presence.state


HALF_REASONS = ("migration", "postcopy", "postcopy-failed")
"""Why a paused domain is only part of a migration: the incoming (or outgoing) half, or a post-copy."""


def holds_it(presence: DomainPresence | None) -> bool:
    """This host holds the whole guest: running (not a post-copy still fed by the other host), or
    paused for another reason than a migration (a paused guest arrives paused).

    A target paused for an incoming migration holds only the incoming half: libvirt's Finish phase
    either resumes it (the guest moved) or kills it (the guest stays on the source)."""
    if presence is None or not presence.active:
        return False
    if presence.state == "paused":
        return presence.reason not in HALF_REASONS
    return presence.reason not in HALF_REASONS[1:]


def _aborted(run: JobRun) -> bool:
    """The job was aborted: its end read as cancelled, or libvirt's call says so."""
    said = run.call_error.message.lower() if run.call_error else ""
    return run.end_type == "cancelled" or any(words in said for words in ABORT_WORDS)


def failure_hint(run: JobRun, name: str) -> str | None:
    """The hint that follows the cause of a failed job: QEMU's log when the source's job itself failed;
    the peer-to-peer one only when the source daemon could not reach the target; none after an abort;
    the logs when libvirt said only that its connection ended."""
    if run.end_type == "failed":
        return QEMU_HINT.format(name=name)
    if run.call_error is None:
        return None
    text = run.call_error.message.lower()
    if isinstance(run.call_error, ConnectError | DeniedError) or any(words in text for words in PEER_CONNECT_WORDS):
        return P2P_HINT
    if any(words in text for words in QEMU_WORDS):
        return QEMU_HINT.format(name=name)
    if any(words in text for words in SILENT_WORDS):
        return SILENT_HINT.format(name=name)
    return None


def _on(presence: DomainPresence, host: str) -> str:
    return f"is paused on {host}" if presence.state == "paused" else f"runs on {host}"


def decide(facts: Facts, run: JobRun, name: str, source: str, target: str) -> tuple[str, str, str | None]:
    """(outcome, message, hint) from where the domain is; the call's own return is only a clue.

    "unknown" when the facts cannot tell (the source did not answer, and the target holds no whole
    guest): never success. `vmtui migrate jobs` settles it once the source answers (`settle_note`).
    """
    src, dst = facts.source, facts.target
    said = f" (libvirt: {run.call_error.message})" if run.call_error else ""
    settle = f"once {source} answers, `vmtui migrate jobs` settles it"
    if src is None:
        if dst is not None and holds_it(dst):
            return "completed", f"{name} {_on(dst, target)}; {source} could not be asked{said}", None
        if dst is not None and dst.active:
            there = f"{target} holds only the incoming half ({where(dst, None)})"
        else:
            there = f"{target}: {where(dst, facts.target_error)}"
        return "unknown", f"{name}: the end is unknown: {source} could not be asked ({facts.source_error}); " \
            f"{there}{said}", settle  # fmt: skip
    if src.active:
        if src.reason == "postcopy-failed" or (dst is not None and dst.reason == "postcopy-failed"):
            return (
                "failed",
                f"{name}: post-copy failed: the guest is paused, its memory split between {source} and {target}{said}",
                "the link must come back for libvirt to recover it (virsh migrate --postcopy-resume)",
            )
        left = ""
        if dst is not None and dst.exists and not dst.persistent:
            left = f"; {target} still holds its half ({dst.state})"
        elif dst is None:
            left = f"; {target} could not be checked ({facts.target_error})"
        if run.cancel_requested:
            return "cancelled", f"migration of {name} aborted: it keeps running on {source}{left}", None
        if run.aborted_by_policy is not None:
            return "failed", f"{name} did not converge: {run.aborted_by_policy.reason}{left}", None
        stays = "stays paused" if src.state == "paused" else "keeps running"
        if _aborted(run):  # not by us (cancel_requested), not by the policy: `migrate abort`, virsh domjobabort
            return "failed", f"migration of {name} aborted by another client: it {stays} on {source}{left}", None
        return "failed", f"migration of {name} failed: it {stays} on {source}{left}{said}", \
            failure_hint(run, name)  # fmt: skip
    if dst is not None and dst.active:
        if dst.state == "paused" and dst.reason in HALF_REASONS:
            return "unknown", f"{name}: the end is unknown: it left {source}, and {target} holds only the " \
                f"incoming half ({where(dst, None)}){said}", settle  # fmt: skip
        return "completed", f"{name} {_on(dst, target)}", None
    if dst is None:
        return "completed", f"{name} left {source}; {target} could not be asked ({facts.target_error}){said}", None
    return "lost", f"{name} runs on neither {source} nor {target}{said}", "see both hosts' libvirtd logs"
