"""The one protocol of screens that show the fleet's live data (the domain, devices and memory screens).

The app hands every arrival of a host's data to the screen on top when it implements this: the app
never needs to know which screens exist.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol, runtime_checkable


@runtime_checkable
class LiveScreen(Protocol):
    def sample_arrived(self, host: str, uuids: Collection[str]) -> None:
        """`host`'s data changed for `uuids`: a sample or a lost connection (the domains it holds), or
        one domain's lifecycle event (that domain). Re-render if it concerns what the screen shows."""
