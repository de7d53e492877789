"""What the TUI tests read off a running app that the app itself never needs to ask."""

from __future__ import annotations

from typing import Any

from textual.app import App

from vmtui.widgets.domain_table import DomainTable


def visible_uuids(table: DomainTable) -> list[str]:
    """The table's UUIDs in display order (after filter and sort): the rows `render_line` draws."""
    return [uuid for _host, uuid in table._order]


def replay_finished(app: App[Any]) -> bool:
    """Every watched host was a recording and all have played out: the app says so in its subtitle."""
    return app.sub_title.startswith("replay finished")
