"""The memory screen's controller: balloons, one step of the balloon policy's plan, and KSM readings.

A controller composed into `VmtuiApp`. The balloon changes run through the job starter. KSM is read
on a daemon thread of the job runner while a host's memory screen is open (the pollers do not read
KSM): the thread only reads and posts (`KsmSampled`, or `KsmFailed` for every failure); whether to go
on is decided here, on Textual's loop, which sets the reader's cancel Event when the screen closes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial

from textual.message import Message

from vmtui.drivers.base import Hypervisor
from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector
from vmtui.ops import ksm, memory
from vmtui.ops.balloon_policy import BalloonKnobs
from vmtui.ops.base import Progress
from vmtui.ops.ksm_policy import KsmKnobs
from vmtui.present import size_kib
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.memory import KSM_POINTS, KsmHistory, KsmPoint, MemoryScreen
from vmtui.tui.actions import After
from vmtui.tui.messages import (
    BalloonPolicyStepRequested,
    BalloonRequested,
    KsmFailed,
    KsmSampled,
    MemoryOpenRequested,
)
from vmtui.tui.parts import Controller, Parts

KSM_EVERY = 2.0
"""Seconds between KSM readings while a memory screen is open."""


def read_ksm(
    entry: HostEntry, connector: Connector, cancel: threading.Event, post: Callable[[Message], object]
) -> None:
    """The reader's thread: one connection, a reading every `KSM_EVERY` s until `cancel` is set.

    Reads no UI state: the loop decides when to stop. Errors propagate to `JobRunner.background`,
    which reports each one.
    """
    prev = None
    with connector(entry) as conn:
        host = memory.memory_host(conn)
        while not cancel.is_set():
            status = ksm.read_status(host, entry.name, interval=0)
            post(KsmSampled(entry.name, status, ksm.ksmd_cpu_between(prev, status)))
            prev = status
            cancel.wait(KSM_EVERY)


class MemoryTools(Controller):
    """Opens memory screens, keeps their KSM readings going while open, runs balloon changes."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        self.ksm_history: dict[str, KsmHistory] = {}
        """Per host, the KSM readings of the memory screen's reader."""
        self._readers: dict[str, threading.Event] = {}
        """Per host, the cancel Event of its running KSM reader."""
        self.knobs: dict[str, tuple[BalloonKnobs, KsmKnobs]] = {}
        """Per host, the policies' knobs last set on its memory screen (o): a screen opened again starts with them."""
        self.targets: dict[str, int] = {}
        """Per UUID, the balloon target the last balloon or plan step of this session set (the memory
        screen's "target set": libvirt's <currentMemory> follows the balloon, not the target)."""

    def open(self, message: MemoryOpenRequested) -> None:
        host = message.host
        entry = self.entries.get(host)
        if entry is None or host not in self.fleet.hosts:
            return
        if self.fleet.hosts[host].recorded:
            self.ui.say("a replay has no live host: memory needs a libvirt connection", severity="warning")
            return
        history = self.ksm_history.setdefault(host, deque(maxlen=KSM_POINTS))
        balloon_knobs, ksm_knobs = self.knobs.get(host, (BalloonKnobs(), KsmKnobs()))
        screen = MemoryScreen(
            host, self.fleet, history, ask=self.ui.show, closed=self._screen_closed,
            select=message.uuid, targets=self.targets, knobs=balloon_knobs, ksm_knobs=ksm_knobs,
            knobs_set=partial(self._knobs_set, host),
        )  # fmt: skip
        self.ui.show(screen)
        # KSM is read on a thread while the screen is open, never on this loop (it may take an SSH trip).
        self._stop_reader(host)  # one reader per host: a new screen starts afresh
        cancel = self._readers[host] = threading.Event()
        body = partial(read_ksm, entry, self.connector, cancel, self.jobs.post)
        self.jobs.background(f"ksm {host}", body, partial(KsmFailed, host))

    def _knobs_set(self, host: str, balloon: BalloonKnobs, ksm_knobs: KsmKnobs) -> None:
        self.knobs[host] = (balloon, ksm_knobs)

    def _stop_reader(self, host: str) -> None:
        cancel = self._readers.pop(host, None)
        if cancel is not None:
            cancel.set()

    def _screen_closed(self, host: str) -> None:
        """A memory screen left the stack: its host's readings stop unless another one shows that host."""
        if self.ui.find(MemoryScreen, lambda screen: screen.host == host and screen.is_attached) is None:
            self._stop_reader(host)

    def stop(self) -> None:
        """The app quits: every reader ends after its current reading."""
        for host in list(self._readers):
            self._stop_reader(host)

    def ksm_sampled(self, message: KsmSampled) -> None:
        history = self.ksm_history.setdefault(message.host, deque(maxlen=KSM_POINTS))
        history.append(KsmPoint(message.status, message.cpu_pct))
        screen = self.ui.top
        if isinstance(screen, MemoryScreen) and screen.host == message.host:
            screen.show_ksm()

    def ksm_failed(self, message: KsmFailed) -> None:
        """Every failure of a reader is said, once; the screen keeps what it has."""
        self._readers.pop(message.host, None)
        if self.ui.running:
            self.ui.say(f"KSM on {message.host}: {message.reason}", severity="warning")

    def balloon(self, message: BalloonRequested) -> None:
        uuid, kib = message.uuid, message.size_kib
        found = self.fleet.find(uuid)
        if found is None:
            self.ui.say("that domain is gone", severity="warning")
            return
        view = found[0]
        name = self.fleet.name_of(uuid)
        why = self.fleet.operation_refusal(view.name, uuid)
        entry = self.entries.get(view.name)
        if why is not None or entry is None:
            self.ui.say(f"balloon {name}: {why or 'unknown host'}", title="refused", severity="error")
            return

        def work(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            return memory.set_balloon(memory.memory_host(conn), uuid, kib, progress=progress, cancel=cancel)

        label = f"Balloon {name} to {size_kib(kib)}"
        after = After(ok=partial(self._targets_set, view.name, {uuid: kib}))
        self.starter.run(entry, uuid, label, work, pending="ballooning…", after=after)

    def _targets_set(self, host: str, targets: dict[str, int], _result: object = None) -> None:
        """A balloon or plan step ended well: its targets show on the host's memory screen at once."""
        self.targets.update(targets)
        screen = self.ui.find(MemoryScreen, lambda s: s.host == host)
        if screen is not None:
            screen.refresh_data()

    def _plan_moved(self, host: str, result: object) -> None:
        plan = result.last_plan if isinstance(result, memory.PolicyRun) else None
        moved = {row.uuid: row.new_kib for row in plan.moves if row.new_kib is not None} if plan else {}
        self._targets_set(host, moved)

    def policy_step(self, message: BalloonPolicyStepRequested) -> None:
        view = self.fleet.hosts.get(message.host)
        entry = self.entries.get(message.host)
        why = self.fleet.write_refusal(view) if view is not None else "not watched"
        if why is not None or entry is None:
            self.ui.say(f"balloon policy on {message.host}: {why}", title="refused", severity="error")
            return

        knobs = message.knobs

        def work(conn: Hypervisor, progress: Progress, cancel: threading.Event) -> object:
            host = memory.memory_host(conn)
            return memory.apply_policy(host, knobs, interval=0, count=1, progress=progress, cancel=cancel)

        def answered(ok: bool | None) -> None:
            if ok:
                after = After(ok=partial(self._plan_moved, entry.name))
                self.starter.run(entry, None, f"Balloon policy step on {entry.name}", work, after=after)

        detail = (f"Each guest in the plan moves at most {size_kib(knobs.max_change_kib)}; "
                  "guests without a driver are left alone.")  # fmt: skip
        self.ui.show(ConfirmModal(f"Apply one step of the balloon plan on {message.host}?", detail=detail), answered)
