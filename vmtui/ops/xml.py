"""A domain's XML: read it, edit it, define from a file, undefine. Shared by the CLI and the TUI.

An edit is checked twice before libvirt sees it: it must still be the same domain (name and UUID),
and the definition must not have changed meanwhile under another tool. Then libvirt validates and
defines it in one step: a refusal leaves the old definition exactly as it was, never half of each.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.resources import live
from vmtui.drivers.xml.parts import identity
from vmtui.errors import NotFoundError, OperationError, UsageError
from vmtui.models import DiskFile, DomainInfo, UndefineFacts
from vmtui.ops.base import Progress, Step, check_cancel, never_cancelled, no_progress
from vmtui.ops.busy import refuse_if_migrating
from vmtui.ops.storage import SharedVolume, still_needed

MAX_XML_BYTES = 10 * 1024 * 1024
"""virsh's own limit for an XML file (VSH_MAX_XML_FILE)."""


@dataclass(frozen=True, slots=True)
class DomainXml:
    host: str
    domain: DomainInfo
    inactive: bool
    """The persistent definition (what the next boot uses) rather than the running one."""
    xml: str

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "inactive": self.inactive,
            "xml": self.xml,
        }


def domain_xml(conn: Hypervisor, ident: str, *, inactive: bool = False, host: str = "") -> DomainXml:
    info = conn.domain(ident)
    return DomainXml(host or conn.uri, info, inactive, conn.domain_xml(info.uuid, inactive=inactive))


@dataclass(frozen=True, slots=True)
class EditSession:
    """The persistent XML handed to an editor, kept to check the edit against."""

    host: str
    domain: DomainInfo
    original: str


@dataclass(frozen=True, slots=True)
class Defined:
    """What a define (from an edit or a file) did."""

    host: str
    domain: DomainInfo
    created: bool
    """A new domain, rather than a new definition of an existing one."""
    changed: bool
    """False when an edit changed nothing (and libvirt was not called)."""
    source: str
    """The file, or "edit"."""

    @property
    def next_boot(self) -> bool:
        """The domain runs: the new definition applies when it next starts."""
        return self.changed and not self.created and self.domain.state in ("running", "paused", "blocked")

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "state": self.domain.state,
            "created": self.created,
            "changed": self.changed,
            "applies_at_next_boot": self.next_boot,
            "source": self.source,
        }


def begin_edit(conn: Hypervisor, ident: str, *, host: str = "") -> EditSession:
    """The persistent definition to edit; refused for a transient domain (nothing persists to edit)."""
    conn.require_writable("edit")
    info = conn.domain(ident)
    refuse_if_migrating(conn, ident, "edit")
    if not info.persistent:
        raise OperationError(
            f"{info.name} is transient: it has no persistent definition to edit",
            hint="`vmtui xml` shows its live XML; `vmtui define FILE` makes it persistent",
        )
    return EditSession(host or conn.uri, info, conn.domain_xml(info.uuid, inactive=True))


def _same_domain(session: EditSession, edited: str) -> None:
    try:
        name, uuid = identity(edited)
    except ValueError as exc:
        raise UsageError(f"the edited XML is not well-formed: {exc}") from exc
    if name != session.domain.name:
        raise UsageError(
            f"the edit renames {session.domain.name!r} to {name!r}: that would define a second domain",
            hint="rename with virsh domrename, or save it as a file for `vmtui define`",
        )
    if uuid and uuid != session.domain.uuid.lower():
        raise UsageError("the edit changes the domain's UUID: that would define a second domain")


def finish_edit(
    conn: Hypervisor,
    session: EditSession,
    edited: str,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> Defined:
    """Define the edited XML, or refuse it with libvirt's (or our) reason; the old definition stays."""
    conn.require_writable("edit")
    if edited.strip() == session.original.strip():
        return Defined(session.host, session.domain, created=False, changed=False, source="edit")
    _same_domain(session, edited)
    now = conn.domain_xml(session.domain.uuid, inactive=True)
    if now != session.original:
        raise OperationError(
            f"the definition of {session.domain.name} changed while it was being edited (another tool?)",
            hint="edit it again: the editor opens on the new definition",
        )
    check_cancel(cancel or never_cancelled(), f"define {session.domain.name}")
    progress(Step(f"defining {session.domain.name}"))
    info = conn.define_xml(edited)
    _check_readback(conn, info, session.domain.name)
    return Defined(session.host, info, created=False, changed=True, source="edit")


def _check_readback(conn: Hypervisor, info: DomainInfo, name: str) -> None:
    """What libvirt stored is the domain that was meant (RELIABILITY row 11)."""
    stored_name, stored_uuid = identity(conn.domain_xml(info.uuid, inactive=True))
    if stored_name != name or stored_uuid != info.uuid.lower():
        raise OperationError(f"libvirt stored {stored_name!r} ({stored_uuid}) for {name!r}: check it with vmtui xml")


def read_definition(data: bytes, source: str) -> str:
    """A definition file's text: UTF-8, at most 10 MiB, a <domain> document."""
    if len(data) > MAX_XML_BYTES:
        raise UsageError(f"{source} is larger than {MAX_XML_BYTES // (1024 * 1024)} MiB: not a domain definition")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source} is not UTF-8 text") from exc
    try:
        name, _uuid = identity(text)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from exc
    if not name:
        raise UsageError(f"{source}: the domain has no <name>")
    return text


def define(
    conn: Hypervisor,
    text: str,
    *,
    source: str = "-",
    host: str = "",
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> Defined:
    """Define a domain from XML (new, or a new definition of the domain with its UUID or name)."""
    conn.require_writable("define")
    try:
        name, _uuid = identity(text)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from exc
    before = conn.find_domain_by_xml(text)
    check_cancel(cancel or never_cancelled(), f"define {name}")
    progress(Step(f"defining {name}"))
    info = conn.define_xml(text)
    _check_readback(conn, info, name)
    return Defined(host or conn.uri, info, created=before is None, changed=True, source=source)


# ----- undefine -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UndefinePlan:
    host: str
    facts: UndefineFacts
    keep_nvram: bool
    remove_storage: bool
    shared: tuple[SharedVolume, ...] = ()
    """Volumes of its disks that another domain (a linked clone) or volume still needs: always kept."""

    @property
    def volumes(self) -> tuple[DiskFile, ...]:
        if not self.remove_storage:
            return ()
        needed = {s.path for s in self.shared}
        return tuple(d for d in self.facts.volumes if d.source not in needed)

    @property
    def kept(self) -> tuple[DiskFile, ...]:
        """Disks left on the host: all of them without --remove-storage, else those no pool holds or
        something else needs."""
        removed = {d.target for d in self.volumes}
        return tuple(d for d in self.facts.disks if d.source and d.target not in removed)

    def kept_text(self) -> list[str]:
        """Each kept disk, a shared volume with why ("base.qcow2, backing file of clone1, clone2")."""
        why = {s.path: s.reason() for s in self.shared}
        return [why.get(d.source or "", d.source or d.target) for d in self.kept]

    def question(self) -> str:
        f = self.facts
        parts = [f"Undefine {f.name} on {self.host}?"]
        if f.active:
            parts.append("It keeps running as a transient domain and is gone when it stops.")
        return " ".join(parts + self.details())

    def details(self) -> list[str]:
        """The question's "Also removed: ..." and "Kept: ..." sentences."""
        f = self.facts
        parts = []
        also = []
        if f.snapshots:
            also.append(f"the metadata of {f.snapshots} snapshot{'s' if f.snapshots != 1 else ''}")
        if f.managed_save:
            also.append("its managed save image")
        if f.nvram and not self.keep_nvram:
            also.append(f"its NVRAM file {f.nvram}")
        if self.volumes:
            also.append("the storage volumes " + ", ".join(d.source or d.target for d in self.volumes))
        if also:
            parts.append("Also removed: " + "; ".join(also) + ".")
        needed = {s.path for s in self.shared}
        plain = [d.source or d.target for d in self.kept if d.source not in needed]
        if plain:
            parts.append("Kept: " + ", ".join(plain) + ".")
        # One sentence each: the reason holds commas of its own ("base.qcow2, backing file of c1, c2").
        parts += [f"Kept: {s.reason()}." for s in self.shared]
        return parts

    def to_json(self) -> dict[str, object]:
        f = self.facts
        return {
            "host": self.host,
            "domain": f.name,
            "uuid": f.uuid,
            "was_active": f.active,
            "snapshots_metadata_removed": f.snapshots,
            "managed_save_removed": f.managed_save,
            "nvram_removed": f.nvram if f.nvram and not self.keep_nvram else None,
            "volumes_removed": [d.source for d in self.volumes],
            "kept": [d.source for d in self.kept],
            "kept_shared": [s.to_json() for s in self.shared],
        }


def plan_undefine(
    conn: Hypervisor, ident: str, *, keep_nvram: bool = False, remove_storage: bool = False, host: str = ""
) -> UndefinePlan:
    """What undefine would remove (for the question), refused before any change where virsh refuses."""
    conn.require_writable("undefine")
    facts = conn.undefine_facts(ident)
    refuse_if_migrating(conn, ident, "undefine")
    if not facts.persistent:
        raise OperationError(
            f"{facts.name} is transient: there is no definition to remove", hint="`vmtui destroy` stops it"
        )
    if remove_storage and facts.active:
        raise OperationError(
            f"{facts.name} is running: its storage cannot be removed", hint="shut it down (or force it off) first"
        )
    return UndefinePlan(host or conn.uri, facts, keep_nvram, remove_storage, shared_of(conn, facts, remove_storage))


def shared_of(conn: Hypervisor, facts: UndefineFacts, remove_storage: bool) -> tuple[SharedVolume, ...]:
    """The domain's volumes something else needs (asked only when its storage is to go)."""
    if not remove_storage or not facts.volumes:
        return ()
    return still_needed(live(conn, "remove storage"), facts.uuid, tuple(d.source or "" for d in facts.volumes))


def unchanged_since(conn: Hypervisor, plan: UndefinePlan, *, state_too: bool = True) -> UndefineFacts:
    """The domain's facts now; refused (nothing done) when its disks, volumes, the volumes others need,
    or (`state_too`) its state changed since the plan was shown."""
    try:
        now = conn.undefine_facts(plan.facts.uuid)
    except NotFoundError as exc:
        raise NotFoundError(f"{plan.facts.name} is gone already (undefined by another tool?)") from exc
    before = (plan.facts.disks, plan.facts.volumes, {s.path for s in plan.shared})
    after = (now.disks, now.volumes, {s.path for s in shared_of(conn, now, plan.remove_storage)})
    if before != after or (state_too and now.active != plan.facts.active):
        raise OperationError(f"{plan.facts.name} changed since the question: nothing done", hint="run it again")
    return now


def undefine(
    conn: Hypervisor,
    plan: UndefinePlan,
    *,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> UndefinePlan:
    """Carry out a plan the user agreed to; refused if the domain changed since (state, disks, snapshots)."""
    conn.require_writable("undefine")
    now = unchanged_since(conn, plan)
    check_cancel(cancel or never_cancelled(), f"undefine {plan.facts.name}")
    progress(Step(f"undefining {plan.facts.name}"))
    conn.undefine(plan.facts.uuid, keep_nvram=plan.keep_nvram, volumes=plan.volumes)
    # Counted again, as it was when the call was made.
    return UndefinePlan(plan.host, now, plan.keep_nvram, plan.remove_storage, plan.shared)


# ----- the editor -----------------------------------------------------------------------------------


def editor_argv(path: str, environ: Mapping[str, str]) -> list[str]:
    """$VISUAL, else $EDITOR, else vi (as virsh edit), split like a shell would but never run by one."""
    raw = environ.get("VISUAL") or environ.get("EDITOR") or "vi"
    try:
        words = shlex.split(raw)
    except ValueError as exc:
        raise UsageError(f"cannot read the editor command {raw!r}: {exc}") from exc
    if not words:
        raise UsageError("the editor command ($VISUAL / $EDITOR) is empty")
    return [*words, path]


EDITOR_WAKE_S = 0.2
"""How often the wait for the editor lets the main thread run: see `run_editor`."""


def run_editor(path: str, environ: Mapping[str, str]) -> None:
    """Open `path` in the user's editor on this terminal and wait; an editor that fails stops the edit."""
    argv = editor_argv(path, environ)
    try:
        proc = subprocess.Popen(argv)
    except OSError as exc:
        raise OperationError(f"cannot run the editor {argv[0]!r}: {exc.strerror}", hint="set $EDITOR") from exc
    _editors.add(proc)
    try:
        while True:
            # Not one blocking wait: the kernel may hand SIGHUP to any of vmtui's threads, and Python runs
            # the handler only when the main thread runs again, which a wait for the editor never does.
            try:
                returncode = proc.wait(timeout=EDITOR_WAKE_S)
                break
            except subprocess.TimeoutExpired:
                continue
    except BaseException:
        proc.kill()  # Ctrl-C or an error here: never leave an editor behind on the terminal
        proc.wait()
        raise
    finally:
        _editors.discard(proc)
    if returncode != 0:
        raise OperationError(f"the editor {argv[0]!r} exited with {returncode}: nothing defined")


EDIT_DIR_PREFIX = "vmtui-edit-"
HANGUP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
"""What ends vmtui while an edit is open (its terminal closed, a kill): the XML must not stay behind."""
_open_edits: set[str] = set()
"""Directories of the edits not yet discarded (main thread only: the CLI, or the TUI's loop)."""
_previous_handlers: dict[int, Any] = {}
_editors: set[subprocess.Popen[bytes]] = set()
"""Editors running now: a hangup is passed on to them, as a shell passes it on to its jobs."""


def edit_file(session: EditSession) -> str:
    """The definition to edit, in a file of a private directory of its own; `discard_edit` removes both.

    A directory, not a lone file: editors write swap and backup copies of the XML beside it (vim's
    .swp, emacs' ~), and these go with it. Until then, SIGHUP or SIGTERM removes it before vmtui ends.
    """
    folder = tempfile.mkdtemp(prefix=EDIT_DIR_PREFIX)  # 0700: only this user reads the domain's XML
    path = os.path.join(folder, f"{session.domain.uuid[:8]}.xml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(session.original)
    _open_edits.add(folder)
    _remove_on_signal()
    return path


def discard_edit(path: str) -> None:
    """Remove an edit's file and its directory (editors' leftovers too)."""
    folder = os.path.dirname(path)
    if folder in _open_edits:
        shutil.rmtree(folder, ignore_errors=True)
    keep_edit(path)


def keep_edit(path: str) -> None:
    """Leave the edit where it is (the user was told where): no signal removes it any more."""
    _open_edits.discard(os.path.dirname(path))
    if not _open_edits:
        _restore_handlers()


def _restore_handlers() -> None:
    for signum, handler in _previous_handlers.items():
        signal.signal(signum, handler)
    _previous_handlers.clear()


def _remove_on_signal() -> None:
    """While edits are open, SIGHUP and SIGTERM first remove them, then end vmtui as they would have.

    The handler runs on the main thread between two bytecodes, also while it waits for the editor, so
    neither a `finally` that never runs (the default action kills at once) nor a race can leave the XML.
    """
    if _previous_handlers or threading.current_thread() is not threading.main_thread():
        return  # installed already, or a thread (a test) that cannot install handlers

    def remove_then_end(signum: int, frame: FrameType | None) -> None:
        for proc in list(_editors):
            proc.send_signal(signum)
        for folder in list(_open_edits):
            shutil.rmtree(folder, ignore_errors=True)
        _open_edits.clear()
        previous = _previous_handlers.get(signum, signal.SIG_DFL)
        _restore_handlers()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)  # the default action, now that the handler is gone

    for signum in HANGUP_SIGNALS:
        # None: a handler set outside Python, which cannot be put back; the default is the nearest.
        _previous_handlers[signum] = signal.signal(signum, remove_then_end) or signal.SIG_DFL


def read_edit(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return read_definition(fh.read(), path)
    except OSError as exc:
        raise OperationError(f"cannot read the edited file {path}: {exc.strerror}") from exc
