"""The stall policy: what vmtui does when a pre-copy migration stops getting closer to the end.

Measured in iterations (QEMU's passes over guest memory), not in seconds: a pass is the unit in
which pre-copy can make progress at all. At the start of each pass, the memory left to send is what
the guest dirtied during the previous one. A pass that does not bring it below 90 % of the best
seen so far made no real progress: it stalled. On each stall the policy takes the next step:

1. raise the max downtime: 100 -> 150 -> 200 -> 300 -> 400 -> 500 ms (a longer final pause lets
   QEMU stop the guest with more left to send);
2. then switch to post-copy, when the user allowed it (`--postcopy`);
3. else abort: the source keeps running, and the user learns why (with the figures).

nova steps the downtime on a timer and oVirt by policy; steps tied to passes react as fast as the
migration itself can show progress, whatever the guest's size or the link's speed. Pure logic: the
job monitor feeds it job stats and applies what it returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vmtui.models import JobStats

DOWNTIME_STEPS_MS = (100, 150, 200, 300, 400, 500)
PROGRESS_RATIO = 0.9
"""A pass must leave less than this share of the best rest so far, or it counts as stalled."""
NEARLY_DONE_BYTES = 1 << 20
"""A rest this small is never a stall, whatever the figures (a guest that dirties a few pages)."""


@dataclass(frozen=True, slots=True)
class PolicyAction:
    """One decision of the policy; `kind` "stalled" only reports (the policy is off, or waits)."""

    kind: str
    """stalled, downtime, postcopy or abort."""
    iteration: int
    remaining: int
    """Bytes left at the start of this pass."""
    best: int
    """The least left at the start of any earlier pass."""
    downtime_ms: int
    """The max downtime after this action."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f} MiB"


class StallPolicy:
    """Feed it every job-stats reading; it answers with the actions to take (usually none)."""

    def __init__(self, *, start_ms: int, postcopy: bool, enabled: bool = True, patience: int = 1) -> None:
        """Args:
        start_ms: the max downtime the job starts with; steps continue above it.
        postcopy: post-copy was allowed for this job (VIR_MIGRATE_POSTCOPY).
        enabled: False to only report stalls (what plain pre-copy would do: nothing).
        patience: stalled passes in a row before the next step.
        """
        self.downtime_ms = start_ms
        self.postcopy = postcopy
        self.enabled = enabled
        self.patience = max(1, patience)
        self._steps = [s for s in DOWNTIME_STEPS_MS if s > start_ms]
        self._iteration = 0
        self._best: int | None = None
        self._stalled = 0
        self.finished = False
        """True once it switched to post-copy or aborted: nothing more to decide."""
        self.stalls = 0
        """Stalled passes seen in total."""

    def _nearly_done(self, remaining: int, bps: int | None) -> bool:
        """A rest that (almost) fits in the downtime is the end coming, not a stall (idle guests: ~0 B)."""
        fits = (bps or 0) * self.downtime_ms / 1000
        return remaining <= max(NEARLY_DONE_BYTES, 2 * fits)

    def observe(self, stats: JobStats) -> list[PolicyAction]:
        iteration, remaining = stats.iteration, stats.memory_remaining
        if self.finished or not stats.active or iteration is None or remaining is None:
            return []
        if iteration <= self._iteration:
            return []  # still the same pass: only its first reading says what the last one left
        self._iteration = iteration
        if iteration == 1:
            # The first pass sends everything; what it starts from is the guest's whole memory.
            self._best = stats.memory_total or remaining
            return []
        if self._best is None:
            # Joined after the first pass (attached, or pass 1 ended before the first reading): this pass
            # is the first one seen, with nothing earlier to have made progress against.
            self._best = remaining
            return []
        best = self._best
        self._best = min(best, remaining)
        if remaining < PROGRESS_RATIO * best or self._nearly_done(remaining, stats.memory_bps):
            self._stalled = 0
            return []
        self.stalls += 1
        self._stalled += 1
        why = (
            f"pass {iteration} starts with {_mib(remaining)} left, "
            f"not below {PROGRESS_RATIO:.0%} of the best so far ({_mib(best)})"
        )
        if not self.enabled or self._stalled < self.patience:
            return [PolicyAction("stalled", iteration, remaining, best, self.downtime_ms, why)]
        self._stalled = 0
        if self._steps:
            self.downtime_ms = self._steps.pop(0)
            return [
                PolicyAction("downtime", iteration, remaining, best, self.downtime_ms, f"{why}: max downtime raised")
            ]
        self.finished = True
        if self.postcopy:
            return [
                PolicyAction(
                    "postcopy", iteration, remaining, best, self.downtime_ms,
                    f"{why}, with the max downtime at its last step: switching to post-copy",
                )
            ]  # fmt: skip
        return [
            PolicyAction(
                "abort", iteration, remaining, best, self.downtime_ms,
                f"{why}, with the max downtime at its last step and post-copy not allowed: aborting "
                "(the source keeps running; retry with --postcopy or --auto-converge, or a faster link)",
            )
        ]  # fmt: skip
