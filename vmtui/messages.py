"""Textual messages: what the monitor's pollers and the job runner report, and what screens ask for.

Named in the past tense. Every payload is frozen, because it crosses from a thread to Textual's event
loop through `App.post_message`, which is thread-safe. Screens post requests up to the app; the app
hands state down to them (no screen imports the app).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from vmtui.monitor.events import HostSampled, MonitorEvent
from vmtui.ops.base import Step


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


@dataclass
class ActionRequested(Message):
    """A screen asked for a lifecycle action on a domain (the app checks, confirms and runs it)."""

    uuid: str
    action: str


@dataclass
class HostRemoveRequested(Message):
    """The palette asked to stop watching a host and forget it."""

    name: str


@dataclass
class MigrateRequested(Message):
    """A screen asked to migrate a domain (the app checks, then opens the target picker or the running job)."""

    uuid: str


@dataclass
class MigrationAbortRequested(Message):
    """The progress view asked to abort its job (the app sets the job's cancel Event: abortJob on the source)."""

    job_id: int
