"""Opening a domain's screen and its lifecycle actions (start, pause, shut down, ...): refused with the
fleet's reason, confirmed when destructive, then one call to the job starter.

A controller composed into `VmtuiApp`.
"""

from __future__ import annotations

import threading
import time

from textual.timer import Timer

from vmtui.drivers.base import Hypervisor
from vmtui.models import HostEntry
from vmtui.ops import lifecycle
from vmtui.ops.base import Progress
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.domain import DomainScreen
from vmtui.tui.actions import After
from vmtui.tui.messages import ActionRequested, DomainOpenRequested
from vmtui.tui.parts import Controller, Parts

SHUTDOWN_WAIT_S = 60.0
"""Seconds the TUI follows a guest asked to shut down before it says the guest did not stop."""
FOLLOW_EVERY_S = 0.5
"""How often the followed state is looked at (events and samples update it; this only reads it)."""
ON_THE_WAY = "shutting-down"
"""libvirt's state while the guest shuts down: not yet the end of the request."""


class DomainActions(Controller):
    """The domain screen and the lifecycle keys."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        self._following: dict[str, Timer] = {}
        """UUID -> the timer following a guest asked to shut down."""

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

        after = None
        if spec.asks_the_guest:
            after = After(ok=lambda _info: self._requested(entry.name, uuid, name, spec), quiet=True)
        self.starter.run(entry, uuid, f"{spec.label} {name}", work, pending=spec.pending, after=after)

    def _requested(self, host: str, uuid: str, name: str, spec: lifecycle.LifecycleAction) -> None:
        """The guest was asked: say so, and for a shutdown follow its state until it changes or the wait ends.

        A reboot leaves the state as it was (running), so there is nothing to follow.
        """
        self.ui.say(lifecycle.requested(spec, name), title=host)
        if spec.key != "shutdown":
            return
        old = self._following.pop(uuid, None)
        if old is not None:
            old.stop()
        wait = SHUTDOWN_WAIT_S
        deadline = time.monotonic() + wait
        self.fleet.requested(uuid, spec.pending)
        self.ui.redraw(host)

        def look() -> None:
            state = self.fleet.state_of(uuid, host)
            # Still in a state the request was made from (or on its way out): the guest has not acted yet.
            changed = state not in (*spec.allowed_states, ON_THE_WAY)
            if not changed and time.monotonic() < deadline and self.ui.running:
                return
            self._following.pop(uuid, None)
            timer.stop()
            self.fleet.answered(uuid)
            if not self.ui.running or host not in self.fleet.hosts:
                return
            if changed:
                self.ui.say(f"{name} is {state} now", title=host)
            else:
                self.ui.say(
                    f"{name} is still {state} {wait:g} s after the shutdown request", title=host, severity="warning"
                )
            self.ui.redraw(host)

        timer = self._following[uuid] = self.ui.every(FOLLOW_EVERY_S, look)
