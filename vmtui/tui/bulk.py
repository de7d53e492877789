"""A lifecycle key on the marked rows: one question that lists them, then `vmtui.ops.bulk.run` per host.

Each host's share is one job of the job starter (a pool of `DEFAULT_PARALLEL` threads inside it, never
a thread per domain); every domain is busy ("pausing…") from the start until its host's job ends, and
then its row says its result. What the fleet already refuses (the state, a job in flight, a read-only
host) is said at once, without asking the host. A controller composed into `VmtuiApp`.
"""

from __future__ import annotations

import threading

from textual.notifications import SeverityLevel

from vmtui.errors import OperationError
from vmtui.ops import bulk, lifecycle
from vmtui.ops.base import Progress
from vmtui.present import counted
from vmtui.screens.confirm import ConfirmModal
from vmtui.tui.actions import After
from vmtui.tui.messages import BulkActionRequested
from vmtui.tui.parts import Controller

SEVERITY: dict[str, SeverityLevel] = {"all": "information", "some": "warning", "none": "error"}
"""How the end is said: all done, some, or none."""

REQUESTED = "requested"
"""A row's result after a shutdown or reboot request: libvirt passed it on; the guest decides."""

Chosen = tuple[str, str, str]
"""(host, UUID, name) of a marked domain."""


class BulkActions(Controller):
    """The lifecycle keys on the marked set."""

    def act(self, message: BulkActionRequested) -> None:
        spec = lifecycle.BY_KEY.get(message.action)
        if spec is None:
            return
        chosen: list[Chosen] = []
        for uuid in message.uuids:
            found = self.fleet.find(uuid)
            if found is not None:
                chosen.append((found[0].name, uuid, self.fleet.name_of(uuid)))
        if not chosen:
            self.ui.say("no marked domain is here any more", severity="warning")
            return
        chosen.sort(key=lambda c: (c[0], c[2]))

        def answered(ok: bool | None) -> None:
            if ok:
                self._start(spec, chosen)

        question = f"{spec.label} {counted(len(chosen), 'marked domain', 'marked domains')}?"
        detail = "The guests are stopped or restarted." if spec.destructive else ""
        listed = [f"{host}  {name}" for host, _uuid, name in chosen]
        self.ui.show(ConfirmModal(question, detail=detail, listed=listed), answered)

    def _start(self, spec: lifecycle.LifecycleAction, chosen: list[Chosen]) -> None:
        table = self.ui.host_screen.table
        table.clear_results(uuid for _h, uuid, _n in chosen)
        refused: dict[str, tuple[str, str | None]] = {}
        said: list[str] = []
        by_host: dict[str, list[Chosen]] = {}
        for host, uuid, name in chosen:
            # The state may have changed while the question was open: the fleet's rules, asked again.
            why = self.fleet.action_refusal(uuid, spec.key, host)
            if why is None and host not in self.entries:
                why = f"{host} is not watched any more"
            if why is not None:
                refused[uuid] = (bulk.REFUSED, None)
                said.append(f"{name}: {why}")
            else:
                by_host.setdefault(host, []).append((host, uuid, name))
        if refused:
            table.set_results(refused)
            self.ui.say(
                f"{spec.label}: {len(refused)} refused: " + "; ".join(said), title="refused", severity="warning"
            )
        for host, items in by_host.items():
            self._start_host(spec, host, items)

    def _start_host(self, spec: lifecycle.LifecycleAction, host: str, items: list[Chosen]) -> None:
        entry = self.entries[host]
        connector = self.connector
        # The other watched (and saved) hosts are asked whether a UUID already runs there (start, resume).
        peers = lifecycle.peer_hosts(entry, self.entries.values())
        action = bulk.lifecycle_action(spec.key, lambda _e: peers, connector)
        targets = [bulk.Target(entry, uuid, name) for _h, uuid, name in items]

        def operation(progress: Progress, cancel: threading.Event) -> bulk.BulkResult:
            return bulk.run(targets, action, connector, progress=progress, cancel=cancel)

        for _h, uuid, _n in items:
            self.fleet.begin(uuid, spec.pending)
        label = f"{spec.label} {counted(len(items), 'domain', 'domains')}"
        after = After(
            ok=lambda result: self._ended(host, result),
            failed=lambda why: self._failed(spec, host, items, why),
            quiet=True,
        )
        if self.starter.start(host, None, label, operation, after=after) is None:
            self._failed(spec, host, items, "not started")
            return
        self.ui.redraw(host)

    def _ended(self, host: str, result: bulk.BulkResult) -> None:
        """Each domain's row shows its result; one notification sums them up with every reason."""
        for outcome in result.outcomes:
            self.fleet.end(outcome.uuid)
        # A request the guest decides on (shutdown, reboot) is done once asked: the row says "requested".
        asked = lifecycle.BY_KEY[result.action].asks_the_guest
        self.ui.host_screen.table.set_results(
            {o.uuid: (REQUESTED if asked and o.result == bulk.DONE else o.result, o.state) for o in result.outcomes}
        )
        reasons = [f"{o.name}: {o.reason}" for o in result.outcomes if o.result != bulk.DONE and o.reason]
        text = result.summary() + ("; " + "; ".join(reasons) if reasons else "")
        self.ui.say(text, title=host, severity=SEVERITY[result.verdict])
        self.ui.redraw(host)

    def _failed(self, spec: lifecycle.LifecycleAction, host: str, items: list[Chosen], why: str) -> None:
        """The job itself ended in an error (not one domain's): every domain of it is marked failed."""
        outcomes = tuple(
            bulk.Outcome(host, uuid, name, bulk.FAILED, reason=why, error=OperationError(why))
            for _h, uuid, name in items
        )
        self._ended(host, bulk.BulkResult(spec.key, outcomes))
