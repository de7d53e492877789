"""The domain tools: the serial console, the XML (view and edit) and snapshots.

A controller composed into `VmtuiApp`: each request is checked against the fleet state first, then
runs through the job starter (`vmtui.tui.actions`) with its own connection; what a job returns is
handed to a follow-up on Textual's loop (`After`). The console and the editor take the terminal over
(`Ui.hand_over`) and give it back as it was.
"""

from __future__ import annotations

import os
import threading
from functools import partial

from vmtui.drivers.base import Hypervisor
from vmtui.errors import UsageError, VmtuiError
from vmtui.models import HostEntry
from vmtui.ops import console, snapshots
from vmtui.ops import xml as xml_ops
from vmtui.ops.base import Progress
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.screens.xml import XmlScreen
from vmtui.tui.actions import After
from vmtui.tui.messages import ConsoleRequested, EditRequested, SnapshotActionRequested, XmlRequested
from vmtui.tui.parts import Controller

SNAPSHOT_PENDING = {"create": "snapshotting…", "revert": "reverting…", "delete": "deleting snapshot…"}


class DomainTools(Controller):
    """Console, XML, edit and snapshots of one domain at a time."""

    def _tool_target(self, uuid: str, what: str, *, running: bool = False, writes: bool = True) -> HostEntry | None:
        """The host entry to act through, or None after saying why not (before any libvirt call)."""
        why = self.fleet.tool_refusal(uuid, running=running, writes=writes)
        found = self.fleet.find(uuid)
        entry = self.entries.get(found[0].name) if found else None
        if why is None and entry is None:
            why = "its host is not watched any more"
        if why is not None or entry is None:
            self.ui.say(f"{what} {self.fleet.name_of(uuid)}: {why}", title="refused", severity="error")
            return None
        return entry

    # ----- the serial console ---------------------------------------------------------------------

    def console(self, message: ConsoleRequested) -> None:
        uuid = message.uuid
        entry = self._tool_target(uuid, "Console", running=True)
        if entry is None:
            return

        def work(conn: Hypervisor, _p: Progress, _c: threading.Event) -> object:
            return console.console_command(conn, uuid, uri=entry.uri, host=entry.name)

        label = f"Console {self.fleet.name_of(uuid)}"
        self.starter.run(entry, uuid, label, work, after=After(ok=self._attach_console, quiet=True, changes=False))

    def _attach_console(self, command: object) -> None:
        assert isinstance(command, console.ConsoleCommand)
        _ran, ended = self.ui.hand_over(
            f"console of {command.domain.name}", partial(console.attach, command, clean=True)
        )
        if ended is not None and ended.returncode != 0:
            self.ui.say(f"console of {command.domain.name}: {ended.error or 'virsh failed'}", severity="error")

    # ----- XML ----------------------------------------------------------------------------------------

    def xml(self, message: XmlRequested) -> None:
        uuid, inactive = message.uuid, message.inactive
        entry = self._tool_target(uuid, "XML of", writes=False)
        if entry is None:
            return

        def work(conn: Hypervisor, _p: Progress, _c: threading.Event) -> object:
            return xml_ops.domain_xml(conn, uuid, inactive=inactive, host=entry.name)

        label = f"XML of {self.fleet.name_of(uuid)}"
        self.starter.run(entry, uuid, label, work, after=After(ok=self._show_xml, quiet=True, changes=False))

    def _show_xml(self, result: object) -> None:
        assert isinstance(result, xml_ops.DomainXml)
        if isinstance(self.ui.top, XmlScreen):
            self.ui.close_top()  # `l` switched live/definition: one XML screen at a time
        d = result.domain
        self.ui.show(XmlScreen(d.uuid, d.name, result.host, result.xml, inactive=result.inactive))

    def edit(self, message: EditRequested) -> None:
        uuid = message.uuid
        entry = self._tool_target(uuid, "Edit")
        if entry is None:
            return

        def work(conn: Hypervisor, _p: Progress, _c: threading.Event) -> object:
            return xml_ops.begin_edit(conn, uuid, host=entry.name)

        def opened(session: object) -> None:
            assert isinstance(session, xml_ops.EditSession)
            self._edit(entry, session, xml_ops.edit_file(session))

        label = f"Edit {self.fleet.name_of(uuid)}"
        self.starter.run(entry, uuid, label, work, after=After(ok=opened, quiet=True, changes=False))

    def _edit(self, entry: HostEntry, session: xml_ops.EditSession, path: str) -> None:
        """The editor on the temporary file, then define in a job; a refusal offers the same file again."""
        name = session.domain.name
        # The editor would not run, or failed: nothing to define (said by _hand_over).
        ran, _ = self.ui.hand_over(f"edit {name}", partial(xml_ops.run_editor, path, os.environ))
        if not ran:
            xml_ops.discard_edit(path)
            return
        try:
            text = xml_ops.read_edit(path)
        except UsageError as exc:  # not a well-formed domain: the same as libvirt refusing it
            self._edit_refused(entry, session, path, exc.message)
            return
        except VmtuiError as exc:  # the editor removed or moved the file
            xml_ops.discard_edit(path)
            self.ui.say(f"edit {name}: {exc}", severity="error")
            return
        edited = text

        def work(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return xml_ops.finish_edit(conn, session, edited, progress=progress, cancel=cancel)

        def defined(result: object) -> None:
            assert isinstance(result, xml_ops.Defined)
            xml_ops.discard_edit(path)
            if not result.changed:
                self.ui.say(f"{name}: no changes")
            else:
                later = " (it applies when the domain next starts)" if result.next_boot else ""
                self.ui.say(f"{name}: new definition saved{later}", title=entry.name)

        def refused(reason: str) -> None:
            self._edit_refused(entry, session, path, reason)

        self.starter.run(entry, session.domain.uuid, f"Define {name}", work, after=After(defined, refused, quiet=True))

    def _edit_refused(self, entry: HostEntry, session: xml_ops.EditSession, path: str, reason: str) -> None:
        name = session.domain.name
        if "changed while it was being edited" in reason:
            xml_ops.keep_edit(path)
            self.ui.say(f"{reason}; your edit is kept in {path}", title=f"edit {name}", severity="error")
            return

        def answered(again: bool | None) -> None:
            if again:
                self._edit(entry, session, path)
            else:
                xml_ops.discard_edit(path)
                self.ui.say(f"{name}: not defined; its definition is unchanged")

        question = f"libvirt refused the edit of {name}: {reason}"
        self.ui.show(ConfirmModal(question, detail="Edit again? No keeps the definition as it was."), answered)

    # ----- snapshots ----------------------------------------------------------------------------------

    def _snapshot_panel(self, uuid: str) -> DomainScreen | None:
        return self.ui.find(DomainScreen, lambda screen: screen.uuid == uuid)

    def snapshot(self, message: SnapshotActionRequested) -> None:
        uuid, action, name = message.uuid, message.action, message.name
        if action == "list":
            self._list_snapshots(uuid)
            return
        entry = self._tool_target(uuid, f"{action.capitalize()} snapshot of")
        if entry is None:
            return
        dom = self.fleet.name_of(uuid)
        panel = self._snapshot_panel(uuid)
        listed = {s.name: s for s in panel.snapshots} if panel else {}

        def work(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            if action == "create":
                return snapshots.create(conn, uuid, name, host=entry.name, progress=progress, cancel=cancel)
            run = snapshots.revert if action == "revert" else snapshots.delete
            return run(conn, uuid, name, host=entry.name, progress=progress, cancel=cancel)

        def done(result: object) -> None:
            assert isinstance(result, snapshots.SnapshotDone)
            s = result.snapshot
            verb = {"create": "created", "revert": "reverted to", "delete": "deleted"}[result.action]
            what = f" ({s.location}, {'disks and memory' if s.memory else 'disks'})" if action == "create" else ""
            self.ui.say(f"{dom}: {verb} snapshot {s.name}{what}", title=entry.name)
            self._list_snapshots(uuid)

        def failed(reason: str) -> None:
            self.ui.say(f"{action} snapshot of {dom}: {reason}", title=entry.name, severity="error")
            self._list_snapshots(uuid)

        def start() -> None:
            label = f"{action.capitalize()} snapshot of {dom}"
            after = After(done, failed, quiet=True)
            self.starter.run(entry, uuid, label, work, pending=SNAPSHOT_PENDING[action], after=after)

        if action == "create":
            start()
            return
        snap = listed.get(name or "")
        info = self.fleet.find(uuid)
        if snap is None or info is None or info[1] is None:
            # Revert and delete are asked about first, with what they mean: never without the facts.
            self.ui.say(f"snapshot {name} of {dom} is not listed (any more)", severity="warning")
            self._list_snapshots(uuid)
            return
        if action == "revert":
            question = snapshots.revert_question(info[1], snap, entry.name)
        else:
            question = snapshots.delete_question(info[1], snap, entry.name, children=False)
        self.ui.show(ConfirmModal(question), lambda ok: start() if ok else None)

    def _list_snapshots(self, uuid: str) -> None:
        panel = self._snapshot_panel(uuid)
        if panel is None:
            return
        why = self.fleet.tool_refusal(uuid, writes=False)
        found = self.fleet.find(uuid)
        entry = self.entries.get(found[0].name) if found else None
        if why is not None or entry is None:
            panel.show_snapshots(None, why or "its host is not watched any more")
            return

        def work(conn: Hypervisor, _p: Progress, _c: threading.Event) -> object:
            return snapshots.list_snapshots(conn, uuid, host=entry.name)

        def listed(result: object) -> None:
            assert isinstance(result, snapshots.SnapshotList)
            if (screen := self._snapshot_panel(uuid)) is not None:
                screen.show_snapshots(result.snapshots)
                screen.refresh_bindings()

        def failed(reason: str) -> None:
            if (screen := self._snapshot_panel(uuid)) is not None:
                screen.show_snapshots(None, reason)

        label = f"Snapshots of {self.fleet.name_of(uuid)}"
        self.starter.run(entry, uuid, label, work, after=After(listed, failed, quiet=True, changes=False))
