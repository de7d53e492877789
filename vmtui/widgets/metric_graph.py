"""A labelled sparkline: a title with the latest value, and the history under it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline


class MetricGraph(Vertical):
    """One metric's history (oldest first) with its current value formatted by `fmt`."""

    DEFAULT_CSS = """
    MetricGraph { height: 4; }
    MetricGraph > Label { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    MetricGraph > Sparkline { height: 3; }
    """

    def __init__(self, title: str, fmt: Callable[[float], str], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._title = title
        self._fmt = fmt

    def compose(self) -> ComposeResult:
        yield Label(f"{self._title}: -")
        yield Sparkline([])

    def show(self, values: Sequence[float]) -> None:
        """Replace the history; one repaint of this graph."""
        latest = self._fmt(values[-1]) if values else "-"
        peak = self._fmt(max(values)) if values else "-"
        samples = f"{len(values)} sample{'' if len(values) == 1 else 's'}"
        self.query_one(Label).update(f"{self._title}: {latest}  [dim](peak {peak}, {samples})[/]")
        # Textual draws a lone value as full blocks (and any flat series as the lowest bar): a first sample of
        # 0 B looked like a full scale. Doubled, one value is a flat series like any other.
        self.query_one(Sparkline).data = list(values) if len(values) != 1 else [values[0], values[0]]
