"""The domain filter shared by the TUI's `/` line and the CLI's `--filter`.

`state:running host:lab1 web.*`: terms are ANDed; `state:` matches a state by its start (`state:shut`
finds shut-off), `host:` a host name exactly (both case-insensitive, repeatable: any of them), and the
remaining words form one regex searched in the domain name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vmtui.errors import UsageError


@dataclass(frozen=True, slots=True)
class DomainFilter:
    states: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    name: re.Pattern[str] | None = None

    def matches(self, *, host: str, name: str, state: str) -> bool:
        if self.states and not state.lower().startswith(self.states):
            return False
        if self.hosts and host.lower() not in self.hosts:
            return False
        return self.name is None or self.name.search(name) is not None


def parse_filter(text: str, *, strict: bool = False) -> DomainFilter:
    """Parse a filter expression.

    An invalid regex raises UsageError when `strict` (the CLI: say so before doing anything); otherwise
    it is matched literally, so that typing in the TUI's filter line never shows an error half-way.
    """
    states: list[str] = []
    hosts: list[str] = []
    words: list[str] = []
    for term in text.split():
        key, sep, value = term.partition(":")
        if sep and key.lower() == "state":
            states.append(value.lower())
        elif sep and key.lower() == "host":
            hosts.append(value.lower())
        else:
            words.append(term)
    pattern = " ".join(words)
    regex = None
    if pattern:
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            if strict:
                raise UsageError(f"--filter: {pattern!r} is not a valid regex: {exc}") from None
            regex = re.compile(re.escape(pattern), re.IGNORECASE)
    return DomainFilter(tuple(states), tuple(hosts), regex)
