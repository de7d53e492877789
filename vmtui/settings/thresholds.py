"""`[thresholds]`: the warn and critical levels per figure (`cpu = { warn = 80, critical = 95 }`).

`vmtui.thresholds` owns what the levels are and checks a table; this adapter only puts its errors on the
file's line, as every other section's are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmtui.config import ConfigError
from vmtui.settings.file import ConfigText

if TYPE_CHECKING:
    from vmtui.thresholds import ThresholdError, Thresholds


def parse_thresholds_section(doc: ConfigText, table: object) -> Thresholds:
    # Imported here: the levels pull in the explainer and the metrics, which `vmtui list` has no use for.
    from vmtui.thresholds import ThresholdError, parse_thresholds

    try:
        return parse_thresholds(table)
    except ThresholdError as exc:
        raise _at_its_line(doc, exc) from exc


def _at_its_line(doc: ConfigText, exc: ThresholdError) -> ConfigError:
    """`[thresholds.cpu] warn = ...` or `[thresholds] cpu = { warn = ... }`: the first that is in the file;
    no key at all (the table itself is wrong): the line of `thresholds`."""
    if not exc.keys:
        return doc.top_error(exc.message, "thresholds")
    measure, *bound = exc.keys
    line = doc.line(f"thresholds.{measure}", bound[0] if bound else None) or doc.line("thresholds", measure)
    return doc.at(line, exc.message)
