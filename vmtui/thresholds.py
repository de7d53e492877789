"""Warn and critical levels per figure, and the `[thresholds]` table of config.toml.

One set of levels for every face: the TUI colours cells and counts alerts with it, `vmtui top` colours
its table and tags its JSON rows, and `vmtui export --rules` turns it into Prometheus alerting rules.
The defaults' warn levels are the overhead explainer's own (`vmtui.explain`): where it starts to flag a
guest is where a cell turns yellow. Pure: `vmtui.settings.thresholds` calls `parse_thresholds` and puts
its errors on a line of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

from vmtui.explain import HIGH_DISK_LATENCY_MS, HIGH_EXIT_RATE, HIGH_MAJOR_FAULTS, HIGH_OVERHEAD_PCT, HIGH_STEAL_PCT
from vmtui.metrics import DomainMetrics


class Level(IntEnum):
    """How much a figure needs a look; ordered, so a row's worst level is a `max`."""

    OK = 0
    WARN = 1
    CRITICAL = 2

    @property
    def word(self) -> str:
        return self.name.lower()


LEVEL_STYLE = {Level.WARN: "yellow", Level.CRITICAL: "bold red"}
"""Rich style of a figure (and a row's name) at each level, in every face; OK keeps its own."""


@dataclass(frozen=True, slots=True)
class Limits:
    warn: float
    critical: float

    def level(self, value: float | None) -> Level:
        """CRITICAL from `critical` on, WARN from `warn` on; an unknown figure is OK (nothing to look at)."""
        if value is None:
            return Level.OK
        if value >= self.critical:
            return Level.CRITICAL
        return Level.WARN if value >= self.warn else Level.OK


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    """The key in `[thresholds]` and in `top --json`'s `levels`."""
    title: str
    unit: str
    """How the figure reads after its value: "% of its vCPUs", " ms"."""
    default: Limits


MEASURES: Mapping[str, Measure] = MappingProxyType(
    {
        m.key: m
        for m in (
            # The dashboard coloured CPU % from 75 % and 90 % of what the guest's vCPUs can use before there
            # were thresholds: the same defaults, now one setting.
            Measure("cpu", "CPU", " % of its vCPUs", Limits(75.0, 90.0)),
            # The explainer's levels are warnings; critical is where the cost is several times that.
            Measure("steal", "steal", " %", Limits(HIGH_STEAL_PCT, 20.0)),
            Measure("overhead", "overhead", " % of a core", Limits(HIGH_OVERHEAD_PCT, 30.0)),
            Measure("exits", "VM exits", "/s", Limits(HIGH_EXIT_RATE, 50_000.0)),
            Measure("memory", "memory pressure", " major faults/s", Limits(HIGH_MAJOR_FAULTS, 500.0)),
            Measure("disk_latency", "disk latency", " ms", Limits(HIGH_DISK_LATENCY_MS, 100.0)),
            # ksmd's own CPU, a host figure: the memory screen's "cost".
            Measure("ksm_cost", "KSM cost", " % of a core", Limits(10.0, 25.0)),
        )
    }
)
"""Every figure with levels, in the order they are reported."""

DOMAIN_KEYS = ("cpu", "steal", "overhead", "exits", "memory", "disk_latency")
"""The measures of a domain (ksm_cost is the host's)."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    limits: Mapping[str, Limits] = field(
        default_factory=lambda: MappingProxyType({k: m.default for k, m in MEASURES.items()})
    )

    def level(self, key: str, value: float | None) -> Level:
        return self.limits[key].level(value)

    def levels(self, figures: Mapping[str, float | None]) -> dict[str, Level]:
        """The level of every figure given (keys of MEASURES)."""
        return {k: self.limits[k].level(v) for k, v in figures.items()}

    def alerts(self, figures: Mapping[str, float | None]) -> tuple[tuple[str, Level], ...]:
        """Only the figures at WARN or worse, in MEASURES order: what a row carries and `top` lists."""
        return tuple((k, lv) for k in MEASURES if k in figures if (lv := self.limits[k].level(figures[k])))


DEFAULT = Thresholds()


def worst(levels: Iterable[Level]) -> Level:
    return max(levels, default=Level.OK)


def cpu_of_vcpus(cpu_pct: float | None, vcpus: int) -> float | None:
    """CPU % of one host core as a share of what the guest's vCPUs can use (all busy = 100)."""
    return None if cpu_pct is None else cpu_pct / max(1, vcpus)


def worst_disk_latency_ms(m: DomainMetrics) -> float | None:
    """The slowest of a domain's disks, reads or writes (the explainer's disk-latency finding, per domain)."""
    values = [v for d in m.disks for v in (d.read_latency_ms, d.write_latency_ms) if v is not None]
    return max(values, default=None)


def domain_figures(m: DomainMetrics) -> dict[str, float | None]:
    """A domain's figures that have levels, keyed as MEASURES."""
    return {
        "cpu": cpu_of_vcpus(m.cpu_pct, m.vcpu_count),
        "steal": m.steal_pct,
        "overhead": m.overhead_pct,
        "exits": m.exits_per_s,
        "memory": m.major_faults_per_s,
        "disk_latency": worst_disk_latency_ms(m),
    }


class ThresholdError(ValueError):
    """A `[thresholds]` value that is not right; `keys` is where (`("cpu", "warn")`), for the line."""

    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.message = message
        self.keys = keys


def _number(value: object, measure: str, bound: str) -> float:
    # A bool is an int to Python; `warn = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ThresholdError(f"thresholds.{measure}.{bound}: must be a number, not {value!r}", measure, bound)
    if value < 0 or value != value or value == float("inf"):
        raise ThresholdError(
            f"thresholds.{measure}.{bound}: must be 0 or more and finite, not {value!r}", measure, bound
        )
    return float(value)


def parse_thresholds(table: object) -> Thresholds:
    """The `[thresholds]` table: `cpu = { warn = 80, critical = 95 }`, either bound alone keeps the
    other's default. Anything unknown, not a number, negative, or warn above critical is refused."""
    if not isinstance(table, dict):
        raise ThresholdError("'thresholds' must be a table: [thresholds] then cpu = { warn = 80, critical = 95 }")
    limits = {k: m.default for k, m in MEASURES.items()}
    for measure, body in table.items():
        if measure not in MEASURES:
            raise ThresholdError(f"thresholds.{measure}: unknown figure (known: {', '.join(MEASURES)})", measure)
        if not isinstance(body, dict):
            raise ThresholdError(
                f"thresholds.{measure}: must be a table like {{ warn = 80, critical = 95 }}, not {body!r}", measure
            )
        for bound in body:
            if bound not in ("warn", "critical"):
                raise ThresholdError(
                    f"thresholds.{measure}.{bound}: unknown key (known: warn, critical)", measure, bound
                )
        default = MEASURES[measure].default
        warn = _number(body["warn"], measure, "warn") if "warn" in body else default.warn
        critical = _number(body["critical"], measure, "critical") if "critical" in body else default.critical
        if warn > critical:
            bound = "warn" if "warn" in body else "critical"
            raise ThresholdError(f"thresholds.{measure}: warn {warn:g} is above critical {critical:g}", measure, bound)
        limits[measure] = Limits(warn, critical)
    return Thresholds(MappingProxyType(limits))
