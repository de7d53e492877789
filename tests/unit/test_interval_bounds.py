"""The one definition of each `--interval` (`vmtui.cli.common`, `vmtui.cli.memory`): each bound pinned.

A value just inside a bound is taken (the command goes on and fails later, for another reason: the
host below refuses connections); a value just outside is refused before anything is contacted, with
exit 2 and one line naming the range.
"""

from __future__ import annotations

import pytest
from conftest import run_vmtui

NOBODY = "qemu+tcp://127.0.0.1:9/system"
"""A host that refuses every connection, at once: exit 4 shows the interval was taken."""

SAMPLES = ["stats", "test"]  # IntervalOpt: how often `top`, `stats`, `record` sample, 0.1-3600
ROUNDS = [["balloon", "policy"], ["ksm", "policy"]]  # RoundIntervalOpt: policy steps, export polls, 0.5-3600
KSM_WINDOW = ["ksm", "status"]  # KsmWindowOpt: how long ksmd's CPU is measured, 0.1-60


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (SAMPLES, "0.1"), (SAMPLES, "3600"),
        (ROUNDS[0], "0.5"), (ROUNDS[0], "3600"), (ROUNDS[1], "0.5"), (ROUNDS[1], "3600"),
        (KSM_WINDOW, "0.1"), (KSM_WINDOW, "60"),
    ],
)  # fmt: skip
def test_a_value_just_inside_a_bound_is_taken(argv: list[str], value: str) -> None:
    proc = run_vmtui(*argv, "--interval", value, "-c", NOBODY)
    assert proc.returncode == 4, proc.stderr  # unreachable: the interval was accepted
    assert "--interval" not in proc.stderr


def test_export_takes_its_bounds() -> None:
    # export serves until stopped: a bad --listen after the interval ends it once the interval is taken.
    for value in ("0.5", "3600"):
        proc = run_vmtui("export", "--interval", value, "--listen", "[zz]", "-c", "test:///default")
        assert (proc.returncode, proc.stderr) == (
            2,
            "vmtui: error: --listen '[zz]': 'zz' in brackets is not an IPv6 address\n",
        )


@pytest.mark.parametrize(
    ("argv", "value", "low", "high"),
    [
        (SAMPLES, "0.09", "0.1", "3600"), (SAMPLES, "3600.1", "0.1", "3600"), (["top"], "0.09", "0.1", "3600"),
        (["record", "/nonexistent/x.jsonl"], "3600.1", "0.1", "3600"),
        (ROUNDS[0], "0.49", "0.5", "3600"), (ROUNDS[0], "3600.1", "0.5", "3600"),
        (ROUNDS[1], "0.49", "0.5", "3600"), (ROUNDS[1], "3600.1", "0.5", "3600"),
        (["export"], "0.49", "0.5", "3600"), (["export"], "3600.1", "0.5", "3600"),
        (ROUNDS[0], "nan", "0.5", "3600"), (["export"], "inf", "0.5", "3600"),
        (KSM_WINDOW, "0.09", "0.1", "60"), (KSM_WINDOW, "60.1", "0.1", "60"), (["ksm"], "60.1", "0.1", "60"),
    ],
)  # fmt: skip
def test_a_value_just_outside_a_bound_is_one_line_and_exit_2(argv: list[str], value: str, low: str, high: str) -> None:
    proc = run_vmtui(*argv, "--interval", value, "-c", NOBODY)
    assert proc.returncode == 2, proc.stderr
    command = " ".join(a for a in argv if not a.startswith("/") and a != "test")
    assert proc.stderr == (
        f"vmtui: error: Invalid value for '--interval' / '-i': {value} is not a number of seconds from {low} to "
        f"{high} (see `vmtui {command} --help`)\n"
    )
