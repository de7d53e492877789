"""Opening a domain's screen and its lifecycle actions (start, pause, shut down, ...): refused with the
fleet's reason, confirmed when destructive, then one call to the job starter.

A controller composed into `VmtuiApp`.
"""

from __future__ import annotations

import threading

from vmtui.drivers.base import Hypervisor
from vmtui.models import HostEntry
from vmtui.ops import lifecycle
from vmtui.ops.base import Progress
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.tui.messages import ActionRequested, DomainOpenRequested
from vmtui.tui.parts import Controller


class DomainActions(Controller):
    """The domain screen and the lifecycle keys."""

    def open(self, message: DomainOpenRequested) -> None:
        if self.fleet.find(message.uuid) is None:
            self.ui.say("that domain is gone", severity="warning")
            return
        if isinstance(self.ui.top, DomainScreen):
            self.ui.close_top()
        self.ui.show(DomainScreen(message.uuid, self.fleet, host=message.host))

    def action(self, message: ActionRequested) -> None:
        """Check, confirm if destructive, then run the action as a job with its own connection."""
        uuid, action = message.uuid, message.action
        spec = lifecycle.BY_KEY.get(action)
        found = self.fleet.find(uuid, message.host)
        if spec is None or found is None:
            self.ui.say("no such domain or action", severity="warning")
            return
        view = found[0]
        name = self.fleet.name_of(uuid)
        why = self.fleet.action_refusal(uuid, action, view.name)
        if why is not None:
            # Refused here, before any libvirt call.
            self.ui.say(f"{spec.label} {name}: {why}", title="refused", severity="error")
            return
        entry = self.entries.get(view.name)
        if entry is None:
            return
        if not spec.destructive:
            self._start(entry, uuid, name, spec)
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._start(entry, uuid, name, spec)

        question = lifecycle.question(spec, name, view.name)
        self.ui.show(ConfirmModal(question, detail="The guest is stopped or restarted."), answered)

    def _start(self, entry: HostEntry, uuid: str, name: str, spec: lifecycle.LifecycleAction) -> None:
        # The state may have changed while the question was open: ask the rules again.
        why = self.fleet.action_refusal(uuid, spec.key, entry.name)
        if why is not None:
            self.ui.say(f"{spec.label} {name}: {why}", title="refused", severity="error")
            return
        # The other watched (and saved) hosts are asked whether this UUID already runs there.
        peers = lifecycle.peer_hosts(entry, self.entries.values())
        connector = self.connector

        def work(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return lifecycle.run(
                conn, uuid, spec.key, peers=peers, connector=connector, progress=progress, cancel=cancel
            )

        self.starter.run(entry, uuid, f"{spec.label} {name}", work, pending=spec.pending)
