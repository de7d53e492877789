"""The domain filter shared by the TUI's `/` line and the CLI's `--filter`.

`state:running host:lab1 web.*`: terms are ANDed; `state:` matches a state by its start (`state:shut`
finds shut-off), `host:` a host name exactly (both case-insensitive, repeatable: any of them), and the
remaining words form one regex searched in the domain name.

What cannot mean anything (an invalid regex, a state no domain can be in, an unknown `key:`) is
refused on the command line; while typing in the TUI it is said under the filter line instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vmtui.errors import UsageError
from vmtui.models import DOMAIN_STATES

KNOWN_STATES = (*DOMAIN_STATES, "migrating", "gone")


@dataclass(frozen=True, slots=True)
class DomainFilter:
    states: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    name: re.Pattern[str] | None = None
    problems: tuple[str, ...] = ()
    """What in the expression was not understood, and how it was taken instead (for the TUI to say)."""

    def matches(self, *, host: str, name: str, state: str) -> bool:
        if self.states and not state.lower().startswith(self.states):
            return False
        if self.hosts and host.lower() not in self.hosts:
            return False
        return self.name is None or self.name.search(name) is not None


def parse_filter(text: str, *, strict: bool = False) -> DomainFilter:
    """Parse a filter expression.

    With `strict` (the CLI) anything not understood raises UsageError before any host is contacted;
    otherwise (the TUI, while typing) it is taken as literally as possible and listed in `problems`.
    """
    states: list[str] = []
    hosts: list[str] = []
    words: list[str] = []
    problems: list[str] = []
    for term in text.split():
        key, sep, value = term.partition(":")
        lowered = key.lower()
        if sep and lowered == "state":
            states.append(value.lower())
            if not any(s.startswith(value.lower()) for s in KNOWN_STATES):
                problems.append(f"no domain is ever {value!r} (states: {', '.join(DOMAIN_STATES[1:])})")
        elif sep and lowered == "host":
            hosts.append(value.lower())
        else:
            if sep and key and key.isalpha():
                problems.append(f"{key}: is not a filter key (state:, host:); searched as text")
            words.append(term)
    pattern = " ".join(words)
    regex = None
    if pattern:
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            problems.append(f"{pattern!r} is not a valid regex ({exc}); matched as plain text")
            regex = re.compile(re.escape(pattern), re.IGNORECASE)
    if strict and problems:
        raise UsageError(f"--filter: {problems[0]}")
    return DomainFilter(tuple(states), tuple(hosts), regex, tuple(problems))
