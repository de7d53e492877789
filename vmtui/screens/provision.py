"""The forms of templates and clones, delete and disk resize: each checked in place, before any job.

What a form can check without a host (a name, a size, linked on a template only, a shrink) it checks
with the ops' own functions (`ops.clone.linked_refusal`, `ops.resize.grown_capacity`), so it refuses
with the CLI's words. What needs the host (the volumes a delete removes, a disk's size now) is read off
Textual's loop: the delete and resize forms post a `FetchRequested` when they open and show the answer.
The change itself is posted by the screen that opened the form as an `OperationRequested` job.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Label

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.xml.edit import check_domain_name
from vmtui.errors import OperationError, UsageError
from vmtui.models import DomainInfo
from vmtui.ops.base import Progress
from vmtui.ops.clone import clone, linked_refusal, plan_clone
from vmtui.ops.delete import DeletePlan, plan_delete
from vmtui.ops.resize import DiskNow, disk_now, grown_capacity
from vmtui.ops.seed import read_cloud_init
from vmtui.present import size
from vmtui.screens.form import (
    CLOUD_INIT_FIELDS,
    CLOUD_INIT_OPTIONS,
    TICKED,
    FormCheck,
    FormField,
    FormModal,
    Values,
    cloud_init_of,
)
from vmtui.tui.fleet import Fleet
from vmtui.tui.messages import DataFetched, FetchRequested, OperationRequested


def clone_refusal(state: str) -> str | None:
    """Why a domain in `state` cannot be cloned (its disks change while it runs), or None."""
    return None if state == "shut-off" else f"it is {state}: only a shut-off domain or a template is cloned"


def template_refusal(fleet: Fleet, uuid: str) -> str | None:
    """Why the template mark of `uuid` cannot be set or cleared now: the host, a job, a running domain."""
    why = fleet.tool_refusal(uuid)
    state = fleet.state_of(uuid)
    if why is None and state != "shut-off":
        why = f"it is {state}: only a shut-off domain becomes a template"
    return why


def ask_clone(screen: Screen[Any], fleet: Fleet, uuid: str, host: str | None) -> None:
    """The clone form for `uuid` (`host`'s copy); its answer becomes a clone job, progress in the source's row."""
    found = fleet.find(uuid, host)
    if found is None or found[1] is None:
        return
    view, source = found[0], found[1]
    taken = frozenset(d.name for d in view.domains.values())

    def chosen(values: Values | None) -> None:
        if values is None:
            return
        name, linked, start = values["name"], values["linked"] == TICKED, values["start"] == TICKED
        options = cloud_init_of(values)
        parts = read_cloud_init(options, name) if options.given else None  # checked in the form already

        def run(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            plan = plan_clone(conn, uuid, name, linked=linked, host=view.name, cloud_init=parts)
            return clone(conn, plan, start=start, progress=progress, cancel=cancel)

        how = "linked clone" if linked else "clone"
        screen.post_message(
            OperationRequested(
                view.name, uuid, f"{how} {name} of {source.name}", run, pending="cloning…", progress_in_row=True
            )
        )

    screen.app.push_screen(CloneForm(source, view.name, taken), chosen)


class CloneForm(FormModal[Values]):
    """The new name, linked (a template's only: refused in place otherwise, in the ops' words), start."""

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "clone --linked": "#form-linked",
        "clone --start": "#form-start",
        **{f"clone {option}": widget for option, widget in CLOUD_INIT_OPTIONS.items()},
    }
    """The CLI's command and options this form stands for (tests/unit/test_parity.py reads them)."""

    def __init__(self, source: DomainInfo, host: str, taken: frozenset[str]) -> None:
        self.source = source
        self.host = host
        self.taken = taken
        """The domain names on the host, as the dashboard knows them."""
        fields = (
            FormField("name", "Name of the clone", value=f"{source.name}-clone"),
            FormCheck("linked", "linked: qcow2 overlays on the template's volumes (--linked)", source.template),
            FormCheck("start", "start it once made (--start)"),
            *CLOUD_INIT_FIELDS,
        )
        what = "template" if source.template else "domain"
        super().__init__(f"Clone {what} {source.name} on {host}", fields)

    def accept(self, values: Values) -> Values:
        name = values["name"]
        check_domain_name(name)
        if name in self.taken:
            raise UsageError(f"clone {name}: a domain named {name} exists on {self.host} already")
        if values["linked"] == TICKED:
            refused = linked_refusal(self.source)
            if refused is not None:
                raise refused
        options = cloud_init_of(values)
        if options.given:
            read_cloud_init(options, name)  # a file that is missing or wrong is said here, before anything
        return values


class FetchingForm(FormModal[Values]):
    """A form whose question needs the host: it asks when it opens (off the loop) and is refused until
    the answer came; the answer is shown in its title."""

    def __init__(self, host: str, key: str, title: str, fields: tuple[FormField | FormCheck, ...]) -> None:
        super().__init__(title, fields)
        self.host = host
        self._key = key
        self.answer: object | None = None
        self.error: str | None = None

    @property
    def fetch_key(self) -> str:
        return self._key

    def read(self) -> FetchRequested:
        raise NotImplementedError

    def describe(self, answer: object) -> str:
        raise NotImplementedError

    def on_mount(self) -> None:
        super().on_mount()
        self.refetch()

    def refetch(self) -> None:
        self.post_message(self.read())

    def show_data(self, message: DataFetched) -> None:
        self.answer, self.error = message.value, message.error
        text = self.describe(message.value) if message.error is None else message.error
        self.query_one(f"#{self.PART_ID}-title", Label).update(Text(text))  # literal: names from the host

    def answered(self) -> object:
        """The answer, or the refusal in place while there is none (still reading, or reading failed)."""
        if self.error is not None:
            raise OperationError(self.error)
        if self.answer is None:
            raise UsageError("still reading the host; again in a moment")
        return self.answer


class DeleteForm(FetchingForm):
    """The question of `vmtui delete`: the volumes removed (with storage ticked) and those kept and why,
    read from `ops.delete.plan_delete` so that the list is what will happen; force for a running domain."""

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "delete --storage": "#form-storage",
        "delete --force": "#form-force",
    }
    """The CLI's command and options this form stands for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, uuid: str, name: str) -> None:
        self.uuid = uuid
        fields = (
            FormCheck("storage", "also delete the volumes listed as removed (--storage)"),
            FormCheck("force", "force it off first if it runs (--force)"),
        )
        super().__init__(host, f"delete:{uuid}", f"Delete {name} on {host}? Reading its volumes…", fields)

    def read(self) -> FetchRequested:
        uuid, host = self.uuid, self.host
        # Planned with storage and force: the list of every volume that can go; the ticks choose.
        return FetchRequested(host, self.fetch_key, lambda conn: plan_delete(conn, uuid, storage=True, force=True,
                                                                             host=host))  # fmt: skip

    def describe(self, answer: object) -> str:
        assert isinstance(answer, DeletePlan)
        facts = answer.undefine.facts
        lines = [f"Delete {facts.name} on {self.host}?"]
        if facts.active:
            lines.append("It is running: tick force to force it off first (like pulling the plug).")
        lines += answer.removed_and_kept() or ["It has no volumes: only its definition goes."]
        lines.append("Removed only with storage ticked; without it every volume is kept.")
        return "\n".join(lines)

    def accept(self, values: Values) -> Values:
        plan = self.answered()
        assert isinstance(plan, DeletePlan)
        if plan.undefine.facts.active and values["force"] != TICKED:
            raise OperationError(
                f"delete {plan.undefine.facts.name}: it is running", hint="shut it down first, or tick force"
            )
        return values

    def plan(self, values: Values) -> DeletePlan:
        """The plan to carry out for the ticks: the one shown, without its volumes when storage is not ticked."""
        shown = self.answered()
        assert isinstance(shown, DeletePlan)
        undefine = shown.undefine
        if values["storage"] != TICKED:
            undefine = type(undefine)(undefine.host, undefine.facts, undefine.keep_nvram, False, ())
            return DeletePlan(undefine, values["force"] == TICKED)
        return DeletePlan(undefine, values["force"] == TICKED, shown.bases)


class ResizeForm(FetchingForm):
    """SIZE for `vmtui disk resize`: "+5G" grows by that much, "32G" to that size (the one size parser);
    the disk's size now is read first, and a shrink is refused in place."""

    def __init__(self, host: str, uuid: str, domain: str, target: str) -> None:
        self.uuid = uuid
        self.domain = domain
        self.target = target
        fields = (FormField("size", "New size: +5G grows by 5 GiB, 32G makes it 32 GiB (never smaller)", "+1G"),)
        super().__init__(host, f"resize:{uuid}:{target}", f"Grow disk {target} of {domain}: reading its size…", fields)

    def read(self) -> FetchRequested:
        uuid, target = self.uuid, self.target
        return FetchRequested(self.host, self.fetch_key, lambda conn: disk_now(conn, uuid, target))

    def describe(self, answer: object) -> str:
        assert isinstance(answer, DiskNow)
        how = "live, the guest sees it at once" if answer.live else "offline, on its volume"
        return f"Grow disk {self.target} of {self.domain}: {size(answer.current)} now ({how})"

    def accept(self, values: Values) -> Values:
        now = self.answered()
        assert isinstance(now, DiskNow)
        grown_capacity(self.domain, self.target, now.current, values["size"])
        return values
