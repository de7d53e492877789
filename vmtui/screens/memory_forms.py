"""The memory screen's forms: the two policies' knobs (o) and KSM's run state and tunables (G).

Each checks what is typed before it closes (the error in place), as the CLI's options are checked
before any change: `balloon policy`'s --target-host-used, --floor, --max-change, --shares, `ksm
policy`'s --free-percent, --pages-min, --pages-max, and `ksm on|off [--unmerge]` with `ksm tune`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vmtui.errors import UsageError
from vmtui.ops.balloon_policy import BalloonKnobs, parse_shares
from vmtui.ops.ksm import LIMITS, RUN_MODES, KsmStatus
from vmtui.ops.ksm_policy import KsmKnobs
from vmtui.ops.sizes import parse_percent, parse_size_kib
from vmtui.screens.form import FormField, FormModal, Values, whole_number

RUN_WORDS = {0: "off", 1: "on", 2: "unmerge"}
"""KSM's run state as `RUN_MODES` names it (what the form's run field takes)."""


def _size_text(kib: int) -> str:
    return f"{kib // 1024}MiB" if kib % 1024 == 0 else f"{kib}KiB"


class PolicyKnobsForm(FormModal[tuple[BalloonKnobs, KsmKnobs]]):
    """The balloon policy's and the KSM policy's knobs, prefilled with the ones in use."""

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "balloon policy --target-host-used": "#form-target",
        "balloon policy --floor": "#form-floor",
        "balloon policy --max-change": "#form-max_change",
        "balloon policy --shares": "#form-shares",
        "ksm policy --free-percent": "#form-free",
        "ksm policy --pages-min": "#form-pages_min",
        "ksm policy --pages-max": "#form-pages_max",
    }
    """The CLI's options this form's fields stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, balloon: BalloonKnobs, ksm: KsmKnobs) -> None:
        self.balloon = balloon
        self.ksm = ksm
        shares = " ".join(f"{name}={n}" for name, n in balloon.shares.items())
        fields = (
            FormField("target", "Balloon: host memory use to aim for", value=f"{balloon.target_used_pct:g}%"),
            FormField("floor", "Balloon: each guest's floor, % of its max memory", value=f"{balloon.floor_pct:g}%"),
            FormField("max_change", "Balloon: the most a guest moves per step",
                      value=_size_text(balloon.max_change_kib)),
            FormField("shares", "Balloon: shares, NAME=N space-separated (default 1000; 0: left out)", value=shares),
            FormField("free", "KSM: pressure below this free memory", value=f"{ksm.free_pct:g}%"),
            FormField("pages_min", "KSM: lowest pages_to_scan", value=str(ksm.pages_min)),
            FormField("pages_max", "KSM: highest pages_to_scan", value=str(ksm.pages_max)),
        )  # fmt: skip
        super().__init__(f"Policy knobs on {host}", fields)

    def accept(self, values: Values) -> tuple[BalloonKnobs, KsmKnobs]:
        max_change = parse_size_kib(values["max_change"])
        if max_change <= 0:
            raise UsageError("the most a guest moves per step must be above 0")
        balloon = BalloonKnobs(
            target_used_pct=parse_percent(values["target"]),
            floor_pct=parse_percent(values["floor"]),
            max_change_kib=max_change,
            min_change_pct=self.balloon.min_change_pct,
            shares=parse_shares(values["shares"].split()),
        )
        low, high = LIMITS["pages_to_scan"]
        pages_min = whole_number("lowest pages_to_scan", values["pages_min"]) or self.ksm.pages_min
        pages_max = whole_number("highest pages_to_scan", values["pages_max"]) or self.ksm.pages_max
        for what, pages in (("lowest", pages_min), ("highest", pages_max)):
            if not low <= pages <= high:
                raise UsageError(f"{what} pages_to_scan {pages}: must be {low} to {high}")
        if pages_min > pages_max:
            raise UsageError(f"lowest pages_to_scan {pages_min} is above the highest, {pages_max}")
        ksm = KsmKnobs(
            boost=self.ksm.boost,
            decay=self.ksm.decay,
            pages_min=pages_min,
            pages_max=pages_max,
            sleep_ms_baseline=self.ksm.sleep_ms_baseline,
            free_pct=parse_percent(values["free"]),
        )
        return balloon, ksm


@dataclass(frozen=True, slots=True)
class KsmSettings:
    """What the KSM form asks for: a run mode when it changes, and the tunables that change."""

    run: str | None
    tunables: dict[str, int]


class KsmSettingsForm(FormModal[KsmSettings]):
    """KSM's run state and tunables, prefilled from the last reading; only what changed is set."""

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "ksm on": "#form-run",
        "ksm off": "#form-run",
        "ksm off --unmerge": "#form-run (unmerge)",
        "ksm tune": "#form-pages_to_scan",
        "ksm tune --pages-to-scan": "#form-pages_to_scan",
        "ksm tune --sleep-ms": "#form-sleep_ms",
        "ksm tune --merge-across-nodes": "#form-merge_across_nodes",
    }
    """The CLI's commands and options this form's fields stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, status: KsmStatus | None) -> None:
        def now(key: str) -> str:
            value = status.get(key) if status is not None else None
            return "" if value is None else str(value)

        self.before = {
            "run": RUN_WORDS.get(status.run, "") if status is not None and status.run is not None else "",
            **{key: now(key) for key in LIMITS},
        }
        fields = (
            FormField("run", "Run: on, off, or unmerge (off, and every merged page split)", value=self.before["run"]),
            FormField("pages_to_scan", "Pages per scan", value=self.before["pages_to_scan"]),
            FormField("sleep_ms", "ms between scans", value=self.before["sleep_millisecs"]),
            FormField("merge_across_nodes", "Merge across NUMA nodes: 1, or 0 (within one)",
                      value=self.before["merge_across_nodes"]),
        )  # fmt: skip
        super().__init__(f"KSM on {host}", fields)

    def accept(self, values: Values) -> KsmSettings:
        run = values["run"].lower()
        if run and run not in RUN_MODES:
            raise UsageError(f"run {run!r}: on, off or unmerge")
        tunables = {}
        for key, field in (("pages_to_scan", "pages_to_scan"), ("sleep_millisecs", "sleep_ms"),
                           ("merge_across_nodes", "merge_across_nodes")):  # fmt: skip
            value = whole_number(key, values[field])
            if value is None or values[field] == self.before[key]:
                continue
            low, high = LIMITS[key]
            if not low <= value <= high:
                raise UsageError(f"{key} must be from {low} to {high}, not {value}")
            tunables[key] = value
        settings = KsmSettings(run if run and run != self.before["run"] else None, tunables)
        if settings.run is None and not settings.tunables:
            raise UsageError("nothing changed")
        return settings
