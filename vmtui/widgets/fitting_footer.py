"""A footer that shows whole keys only: when the terminal is too narrow for all of them, it leaves out the
least used ones instead of cutting the line mid-word, and `?` (every key, by its full name) always stays.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual import events
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = "question_mark"
"""Help lists every key: with it on the footer, no key left out is out of reach."""


def key_width(key: FooterKey) -> int:
    """Columns a key takes in the compact footer: the key, a space, its word, a space before the next."""
    return cell_len(key.key_display) + 1 + cell_len(key.description) + 1


def fitting(keys: list[FooterKey], width: int, ranking: tuple[str, ...]) -> list[FooterKey]:
    """The keys that fit in `width` columns, taken by rank (`?` first, then `ranking`, then in footer
    order), shown in footer order."""

    def rank(key: FooterKey) -> int:
        first = key.key.split(",")[0]
        if first == ALWAYS:
            return -1
        return ranking.index(first) if first in ranking else len(ranking)

    kept: set[int] = set()
    used = 0
    for index, key in sorted(enumerate(keys), key=lambda pair: (rank(pair[1]), pair[0])):
        if used + key_width(key) <= width:
            kept.add(index)
            used += key_width(key)
    return [key for index, key in enumerate(keys) if index in kept]


class FittingFooter(Footer):
    """Footer(compact=True) that fits its keys to the terminal's width; `ranking` names the main keys,
    most used first (the bindings' first key, as Textual spells it: "enter", "slash"); without it the
    screen's own order ranks them."""

    def __init__(self, ranking: tuple[str, ...] = ()) -> None:
        super().__init__(compact=True)
        self.ranking = ranking
        self._laid_out_for = 0

    def compose(self) -> Iterable[Widget]:
        children = list(super().compose())
        keys = [c for c in children if isinstance(c, FooterKey) and not c.has_class("-command-palette")]
        others = [c for c in children if c not in keys]
        palette = sum(1 + key_width(c) for c in others if isinstance(c, FooterKey))  # its border and words
        self._laid_out_for = self.app.size.width
        shown = fitting(keys, self.app.size.width - palette, self.ranking)
        return [*shown, *others]

    def on_resize(self, _event: events.Resize) -> None:
        if self.app.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
