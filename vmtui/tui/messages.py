"""Textual messages: what the monitor's pollers and the job runner report, and what screens ask for.

Named in the past tense. Every payload is frozen, because it crosses from a thread to Textual's event
loop through `App.post_message`, which is thread-safe. Screens post requests up to the app; the app
hands state down to them (no screen imports the app).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from vmtui.drivers.base import Hypervisor
from vmtui.monitor.events import HostSampled, MonitorEvent
from vmtui.ops.balloon_policy import BalloonKnobs
from vmtui.ops.base import Progress, Step


@dataclass
class MonitorReported(Message, bubble=False):
    """A poller's event (connected, sampled, disconnected, domain changed, source ended)."""

    event: MonitorEvent

    @property
    def host(self) -> str:
        return self.event.host

    def can_replace(self, message: Message) -> bool:
        # If the UI falls behind, an older live sample of the same host still in the queue is dropped:
        # the newest one carries everything the table needs. A recording's samples all count.
        mine = self.event
        if not isinstance(mine, HostSampled) or mine.lossless or not isinstance(message, MonitorReported):
            return False
        theirs = message.event
        return isinstance(theirs, HostSampled) and theirs.host == mine.host


@dataclass
class JobProgressed(Message, bubble=False):
    """A running operation reported a step."""

    job_id: int
    step: Step


@dataclass
class JobFinished(Message, bubble=False):
    """An operation ended: `ok`, or `message` says why not (libvirt's words, shown literally)."""

    job_id: int
    host: str
    uuid: str | None
    label: str
    ok: bool
    message: str
    result: Any = None


@dataclass
class DomainOpenRequested(Message):
    """A screen asked to open a domain's screen."""

    uuid: str
    host: str | None = None
    """The row's host: of one UUID running on two hosts, the copy to show."""


@dataclass
class ActionRequested(Message):
    """A screen asked for a lifecycle action on a domain (the app checks, confirms and runs it)."""

    uuid: str
    action: str
    host: str | None = None
    """The copy on this host, when one UUID runs on two (a split brain: the user stops one of them)."""


@dataclass
class BulkActionRequested(Message):
    """A lifecycle key with rows marked: the action on every marked domain (asked once, then run)."""

    action: str
    uuids: tuple[str, ...]


@dataclass
class HostRemoveRequested(Message):
    """The palette asked to stop watching a host and forget it."""

    name: str


@dataclass
class HostDrainRequested(Message):
    """The hosts pane asked to drain the host under its cursor (or take it out of maintenance)."""

    name: str


@dataclass
class CreateRequested(Message):
    """The dashboard asked for the create form on host `host` (key n, `:create`)."""

    host: str


@dataclass
class CreateAbortRequested(Message):
    """The create screen asked to cancel its creation (what was made so far is removed)."""

    job_id: int


@dataclass
class DrainAbortRequested(Message):
    """The drain screen asked to abort its drain (running migrations abort, queued ones never start)."""

    job_id: int


DeviceOperation = Callable[[Hypervisor, Progress, threading.Event], object]
"""An ops function bound to its arguments: run by the app's job runner with a connection of its own."""


@dataclass
class DevicesOpenRequested(Message):
    """A screen asked to open a domain's devices screen."""

    uuid: str


@dataclass
class MigrateRequested(Message):
    """A screen asked to migrate a domain (the app checks, then opens the target picker or the running job)."""

    uuid: str


@dataclass
@dataclass
class ConsoleRequested(Message):
    """A screen asked for a domain's serial console (the app hands the terminal over to it)."""

    uuid: str


@dataclass
class SriovOpenRequested(Message):
    """A screen asked to open a host's SR-IOV screen."""

    host: str


@dataclass
class OperationRequested(Message):
    """A screen asked for a change (a device, a VF count): the app checks the host, asks `question` when
    there is one, and runs `run` as a job."""

    host: str
    uuid: str | None
    """The domain it changes (one job at a time per domain), or None for a host-wide change."""
    label: str
    run: DeviceOperation
    question: str | None = None
    detail: str = ""
    pending: str = "changing devices…"
    """What the domain's row shows while it runs."""
    progress_in_row: bool = False
    """The job's progress steps show in the row after `pending` ("cloning… 50%"): a long copy moves."""


@dataclass
class FetchRequested(Message):
    """A screen asked for data the pollers do not collect (node devices, a domain's definitions)."""

    host: str
    key: str
    """Names the request; the answer goes to the screens waiting for this key."""
    fetch: Callable[[Hypervisor], object]


@dataclass
class DataFetched(Message, bubble=False):
    """The answer to a FetchRequested: `value`, or `error` (one line, shown literally)."""

    key: str
    host: str
    value: Any = None
    error: str | None = None


@dataclass
class KsmFailed(Message, bubble=False):
    """A host's KSM readings ended in an error (one line, shown literally); the reader is gone."""

    host: str
    reason: str


@dataclass
class MemoryOpenRequested(Message):
    """A screen asked for the memory screen of a host (balloons, the policy's plan, KSM)."""

    host: str
    uuid: str | None = None
    """The domain selected where it was asked: the screen's cursor starts on it."""


@dataclass
class BalloonRequested(Message):
    """The memory screen asked to move a guest's balloon to `size_kib` (the app checks and runs it)."""

    uuid: str
    size_kib: int


@dataclass
class BalloonPolicyStepRequested(Message):
    """The memory screen asked to apply one step of the balloon policy on a host, with its knobs."""

    host: str
    knobs: BalloonKnobs = field(default_factory=BalloonKnobs)


@dataclass
class KsmSampled(Message, bubble=False):
    """A KSM reading of a host, from the app's KSM worker (the pollers do not collect KSM)."""

    host: str
    status: Any
    """`vmtui.ops.ksm.KsmStatus` (frozen)."""
    cpu_pct: float | None
    """ksmd's CPU since the previous reading, % of one core."""


@dataclass
class XmlRequested(Message):
    """A screen asked to see a domain's XML: the live one, or the persistent definition."""

    uuid: str
    inactive: bool = False


@dataclass
class EditRequested(Message):
    """A screen asked to edit a domain's persistent XML in the user's editor."""

    uuid: str


@dataclass
class SnapshotActionRequested(Message):
    """A screen asked to list, create, revert to or delete snapshots (revert and delete are asked about first)."""

    uuid: str
    action: str
    """list, create, revert or delete."""
    name: str | None


@dataclass
class ResourcesOpenRequested(Message):
    """A screen asked for a host's storage ("storage") or networks ("networks") screen."""

    host: str
    kind: str


@dataclass
class MigrationAbortRequested(Message):
    """The progress view asked to abort its job (the app sets the job's cancel Event: abortJob on the source)."""

    job_id: int
