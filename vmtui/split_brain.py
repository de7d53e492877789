"""One UUID running on two watched hosts at once (RELIABILITY #31): which, where, and what it refuses.

Pure rules over what the pollers read, kept apart from the fleet's state so that mutation testing can
plant bugs in them alone. `Fleet` (vmtui/fleet.py) feeds them each host's domains and samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

RUNNING_STATES = frozenset({"running", "blocked"})
"""A guest's vCPUs may run (and its QEMU write its disks): two such copies of one UUID are a split brain."""


class HasState(Protocol):
    @property
    def state(self) -> str: ...


def running_uuids(sampled: Mapping[str, HasState], defined: Mapping[str, HasState]) -> frozenset[str]:
    """The UUIDs running on one host: its samples say, and its XML facts for domains not sampled yet."""
    running = {u for u, m in sampled.items() if m.state in RUNNING_STATES}
    running.update(u for u, i in defined.items() if u not in sampled and i.state in RUNNING_STATES)
    return frozenset(running)


def running_after(
    running: frozenset[str], sampled: Mapping[str, HasState], defined: Mapping[str, HasState], changed: Iterable[str]
) -> frozenset[str]:
    """`running_uuids` of a host after a round that sampled only `changed`: the others are as they were.

    What a focused round costs: the domains it sampled, not the whole host (RUNNING_STATES is asked once
    per changed domain). The same object comes back when none of them started or stopped running.
    """
    now: set[str] | None = None
    for uuid in changed:
        m = sampled.get(uuid) or defined.get(uuid)
        runs = m is not None and m.state in RUNNING_STATES
        if runs != (uuid in running):
            now = set(running) if now is None else now
            if runs:
                now.add(uuid)
            else:
                now.discard(uuid)
    return running if now is None else frozenset(now)


def twins(running: Sequence[tuple[str, frozenset[str]]]) -> Mapping[str, tuple[str, ...]]:
    """UUIDs running on two or more of the hosts, each with those hosts in the order given.

    `running`: (host, the UUIDs running there) per watched host. Never a migration, whose halves never
    both run: the target's stays paused until the source's stops (post-copy runs the target with the
    source paused). The arithmetic is on sets, in C.
    """
    seen: set[str] = set()
    twice: set[str] = set()
    for _host, uuids in running:
        twice |= seen & uuids
        seen |= uuids
    if not twice:
        return MappingProxyType({})
    return {u: tuple(host for host, uuids in running if u in uuids) for u in twice}


def split_refusal(hosts: tuple[str, ...] | None) -> str | None:
    """Why nothing but a lifecycle action on one chosen copy may touch a UUID that runs on `hosts`."""
    if hosts is None:
        return None
    return f"it runs on {' and '.join(hosts)} at once (the same UUID): stop one copy first (its row, x or d)"


def also_on(state: str, hosts: tuple[str, ...] | None, here: str) -> str:
    """A row's state, naming the other hosts where the same UUID runs (only a running copy is a twin)."""
    if hosts is None or state not in RUNNING_STATES:
        return state
    return f"{state} (also on {', '.join(h for h in hosts if h != here)})"
