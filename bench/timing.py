"""Timing helpers shared by the benchmarks: interleaved rounds, medians, ratios."""

from __future__ import annotations

import math
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# ----- timing ------------------------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    run: Callable[[], object]
    inner: int = 1
    """Calls per timed block (fast calls are timed in blocks so the clock's resolution does not matter)."""
    times: list[float] | None = None

    def calibrate(self, target_s: float = 0.02, cap: int = 200) -> None:
        start = time.perf_counter()
        self.run()
        once = time.perf_counter() - start
        self.inner = max(1, min(cap, math.ceil(target_s / max(once, 1e-6))))

    def time_block(self) -> float:
        start = time.perf_counter()
        for _ in range(self.inner):
            self.run()
        return (time.perf_counter() - start) / self.inner

    @property
    def median(self) -> float:
        assert self.times
        return statistics.median(self.times)


def race(contenders: Sequence[Contender], rounds: int) -> None:
    for c in contenders:
        c.run()  # warm-up: caches, first-call set-up, page faults
        c.times = []
    for r in range(rounds):
        order = list(contenders[r % len(contenders) :]) + list(contenders[: r % len(contenders)])
        for c in order:
            assert c.times is not None
            c.times.append(c.time_block())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.3f}"


def ratio(num: float, den: float) -> str:
    return f"{num / den:7.2f}x" if den > 0 else "      -"


def verdict(value: float, goal: float) -> str:
    return "meets goal" if value <= goal else "MISSES goal"


def run_quiet(cmd: Sequence[str], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
