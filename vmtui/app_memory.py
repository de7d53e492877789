"""The app's memory screen: balloons, the balloon policy's plan, and KSM read by a worker.

A mixin of `VmtuiApp`, kept apart so the app module stays about hosts, samples and lifecycle.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from functools import partial

from textual.app import App
from textual.notifications import SeverityLevel
from textual.worker import get_current_worker

from vmtui.errors import VmtuiError
from vmtui.models import HostEntry
from vmtui.monitor.poller import Connector
from vmtui.ops import ksm, memory
from vmtui.ops.balloon_policy import BalloonKnobs
from vmtui.ops.base import Progress
from vmtui.present import size_kib
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import KSM_POINTS, KsmHistory, KsmPoint, MemoryScreen
from vmtui.tui.fleet import Fleet
from vmtui.tui.jobs import JobRunner
from vmtui.tui.messages import BalloonPolicyStepRequested, BalloonRequested, KsmSampled, MemoryOpenRequested

KSM_EVERY = 2.0
"""Seconds between KSM readings while a memory screen is open."""


class MemoryTools(App[None]):
    fleet: Fleet
    entries: dict[str, HostEntry]
    jobs: JobRunner
    connector: Connector
    host_screen: HostScreen
    ksm_history: dict[str, KsmHistory]
    """Per host, the KSM readings of the memory screen's worker (the pollers do not read KSM)."""

    def say(self, message: str, *, title: str = "", severity: SeverityLevel = "information") -> None:
        raise NotImplementedError  # VmtuiApp's

    def on_memory_open_requested(self, message: MemoryOpenRequested) -> None:
        host = message.host
        entry = self.entries.get(host)
        if entry is None or host not in self.fleet.hosts:
            return
        if self.fleet.hosts[host].recorded:
            self.say("a replay has no live host: memory needs a libvirt connection", severity="warning")
            return
        history = self.ksm_history.setdefault(host, deque(maxlen=KSM_POINTS))
        self.push_screen(MemoryScreen(host, self.fleet, history, ask=self.push_screen))
        # KSM is read by a worker while the screen is open, never on this loop (it may take an SSH trip).
        self.run_worker(
            partial(self._watch_ksm, entry),
            name=f"ksm {host}",
            group=f"ksm:{host}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _memory_screen_open(self, host: str) -> bool:
        return any(isinstance(s, MemoryScreen) and s.host == host for s in self.screen_stack)

    def _watch_ksm(self, entry: HostEntry) -> None:
        """Worker thread: read KSM every 2 s while the host's memory screen is open."""
        worker = get_current_worker()
        prev = None
        try:
            with self.connector(entry) as conn:
                host = memory.memory_host(conn)
                while not worker.is_cancelled and self.is_running:
                    status = ksm.read_status(host, entry.name, interval=0)
                    self.post_message(KsmSampled(entry.name, status, ksm.ksmd_cpu_between(prev, status)))
                    prev = status
                    time.sleep(KSM_EVERY)
                    if not self._memory_screen_open(entry.name):
                        return
        except VmtuiError as exc:
            if self.is_running:  # a host that cannot be read: said once; the screen shows what it has
                self.call_from_thread(self.say, f"KSM on {entry.name}: {exc}", severity="warning")

    def on_ksm_sampled(self, message: KsmSampled) -> None:
        history = self.ksm_history.setdefault(message.host, deque(maxlen=KSM_POINTS))
        history.append(KsmPoint(message.status, message.cpu_pct))
        screen = self.screen
        if isinstance(screen, MemoryScreen) and screen.host == message.host:
            screen.show_ksm()

    def on_balloon_requested(self, message: BalloonRequested) -> None:
        uuid, kib = message.uuid, message.size_kib
        found = self.fleet.find(uuid)
        if found is None:
            self.say("that domain is gone", severity="warning")
            return
        view = found[0]
        name = self.fleet.name_of(uuid)
        why = self.fleet.operation_refusal(view.name, uuid)
        entry = self.entries.get(view.name)
        if why is not None or entry is None:
            self.say(f"balloon {name}: {why or 'unknown host'}", title="refused", severity="error")
            return

        def operation(progress: Progress, cancel: threading.Event) -> object:
            with self.connector(entry) as conn:
                return memory.set_balloon(memory.memory_host(conn), uuid, kib, progress=progress, cancel=cancel)

        if self.jobs.start(entry.name, uuid, f"Balloon {name} to {size_kib(kib)}", operation) is not None:
            self.fleet.begin(uuid, "ballooning…")
            self.host_screen.update_rows(entry.name)

    def on_balloon_policy_step_requested(self, message: BalloonPolicyStepRequested) -> None:
        view = self.fleet.hosts.get(message.host)
        entry = self.entries.get(message.host)
        why = self.fleet.write_refusal(view) if view is not None else "not watched"
        if why is not None or entry is None:
            self.say(f"balloon policy on {message.host}: {why}", title="refused", severity="error")
            return

        def answered(ok: bool | None) -> None:
            if not ok:
                return

            def operation(progress: Progress, cancel: threading.Event) -> object:
                with self.connector(entry) as conn:
                    return memory.apply_policy(
                        memory.memory_host(conn), BalloonKnobs(), interval=0, count=1, progress=progress, cancel=cancel
                    )

            self.jobs.start(entry.name, None, f"Balloon policy step on {entry.name}", operation)

        detail = "Each guest in the plan moves at most 100 MiB; guests without a driver are left alone."
        self.push_screen(
            ConfirmModal(f"Apply one step of the balloon plan on {message.host}?", detail=detail), answered
        )
