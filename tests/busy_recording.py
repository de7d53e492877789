"""A recording of a guest whose CPU goes where a test says, for the thresholds' TUI and `top` tests.

Made from tests/fixtures/tui-recording.jsonl (two real 1-vCPU KVM guests on a real host, `vmtui record`):
its header and first sample are kept, and the next samples are that sample one second later each, with
the busy guest's `cpu.time` grown by the chosen share of a core per second (its vCPU's `vcpu.0.time` by
95 % of that, so its overhead stays at 5 % of its CPU) and everything else unchanged. So the figures
are known by hand: a guest with 1 vCPU that ran 0.97 s of CPU in 1 s is at 97 % of a core, 97 % of its
vCPUs, and its overhead is 5 % of that, 4.85 % of a core.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "fixtures" / "tui-recording.jsonl"
BUSY = "vmtui-tui-a"
IDLE = "vmtui-tui-b"
NS = 1_000_000_000


def write_busy_recording(path: Path, busy_cpu_pct: Sequence[float], *, busy_name: str = BUSY) -> Path:
    """`path` with a first sample, then one sample per entry of `busy_cpu_pct` (the busy guest's CPU, %
    of one core, over the second before it); the idle guest stays where it was (0 %). `busy_name`: the
    busy guest's name as its host would report it (markup, say)."""
    header_text, first = SOURCE.read_text().splitlines()[:2]
    header = json.loads(header_text)
    for domain in header["hosts"]["lab1"]["domains"]:
        if domain["name"] == BUSY:
            domain["name"] = busy_name
    base = json.loads(first)
    for domain in base["domains"]:
        if domain["name"] == BUSY:
            domain["name"] = busy_name
    lines = [json.dumps(header), json.dumps(base)]
    sample = base
    for pct in busy_cpu_pct:
        sample = copy.deepcopy(sample)
        sample["monotonic"] += 1.0
        sample["wall"] += 1.0
        for domain in sample["domains"]:
            if domain["name"] == busy_name:
                ran = round(pct / 100 * NS)
                domain["raw"]["cpu.time"] += ran
                domain["raw"]["vcpu.0.time"] += round(ran * 0.95)
        lines.append(json.dumps(sample))
    path.write_text("\n".join(lines) + "\n")
    return path
