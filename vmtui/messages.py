"""Textual messages: what the monitor's pollers and the job runner report, and what screens ask for.

Named in the past tense. Every payload is frozen, because it crosses from a thread to Textual's event
loop through `App.post_message`, which is thread-safe. Screens post requests up to the app; the app
hands state down to them (no screen imports the app).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from vmtui.drivers.base import Hypervisor
from vmtui.monitor.events import HostSampled, MonitorEvent
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
class ResourcesOpenRequested(Message):
    """A screen asked for a host's storage ("storage") or networks ("networks") screen."""

    host: str
    kind: str


ChangeOperation = Callable[[Hypervisor, Progress, threading.Event], object]
"""A change made through one of `vmtui.ops`' functions, given a connection the job opens."""


@dataclass
class ChangeRequested(Message):
    """A screen asked for a change on `host` (create or delete a volume, autostart, ...).

    The screen has refused what its data already rules out; the app asks `question` first when there
    is one, then runs `operation` as a job, where the ops function checks everything again.
    """

    host: str
    label: str
    """What it does, with the names ("Delete volume web.qcow2 from default")."""
    operation: ChangeOperation
    question: str | None = None
    detail: str = ""
    uuid: str | None = None
    """The domain it concerns, if any: one job at a time per domain."""
