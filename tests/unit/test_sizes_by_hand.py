"""Sizes and percentages as people type them: every unit of virsh's table, the edges, the messages."""

from __future__ import annotations

import pytest

from vmtui.errors import UsageError
from vmtui.ops.sizes import parse_percent, parse_size_kib


@pytest.mark.parametrize(
    ("text", "kib"),
    [
        # Binary units: 1 KiB = 1024 B; decimal ones: 1 KB = 1000 B, so 1024 KB = 1024000 B = 1000 KiB.
        ("1k", 1), ("1KiB", 1), ("2048b", 2), ("1024 byte", 1), ("3072 bytes", 3), ("1024000 B", 1000),
        ("1024KB", 1000), ("1m", 1024), ("1 MiB", 1024), ("1024mb", 1000000),
        ("1g", 1048576), ("1GiB", 1048576), ("1024 GB", 1000000000),
        ("1t", 1073741824), ("1TiB", 1073741824), ("1024TB", 1000000000000),
        # No unit is KiB; 0 is a size; case and spaces around do not matter.
        ("262144", 262144), ("0", 0), ("  512 mIb  ", 524288), ("1.5GiB", 1572864), ("0.5m", 512),
    ],
)  # fmt: skip
def test_every_unit_converts_exactly(text: str, kib: int) -> None:
    assert parse_size_kib(text) == kib


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "'' is not a size"),
        ("-1G", "'-1G' is not a size"),
        ("1e3M", "'1e3M' is not a size"),
        (".5G", "'.5G' is not a size"),
        ("12 parsecs", "'12 parsecs': unknown unit 'parsecs'"),
        ("1 KiBs", "'1 KiBs': unknown unit 'KiBs'"),
        # 1.3 MiB = 1331.2 KiB; 1 GB = 10^9 B = 976562.5 KiB; 1000 B = 0.977 KiB: refused, not rounded.
        ("1.3MiB", "'1.3MiB' is 1331.200 KiB, not a whole number of KiB"),
        ("1GB", "'1GB' is 976562.500 KiB, not a whole number of KiB"),
        ("1000b", "'1000b' is 0.977 KiB, not a whole number of KiB"),
    ],
)
def test_what_is_not_a_whole_number_of_kib_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_size_kib(text)
    assert refused.value.message == message


def test_the_hints_name_the_forms_that_work() -> None:
    with pytest.raises(UsageError) as bad:
        parse_size_kib("lots")
    assert bad.value.hint == "a number and a unit: 512MiB, 1.5GiB, 2G (no unit: KiB)"
    with pytest.raises(UsageError) as unit:
        parse_size_kib("2 furlongs")
    assert unit.value.hint == "B, KiB/k, MiB/M, GiB/G, TiB/T, or KB, MB, GB, TB"
    with pytest.raises(UsageError) as part:
        parse_size_kib("1.3MiB")
    assert part.value.hint == "give it in KiB"


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0.0), ("0%", 0.0), ("100", 100.0), ("100%", 100.0), (" 72.5 % ", 72.5), ("99.99", 99.99), ("0.01%", 0.01)],
)
def test_percentages_from_0_to_100_are_taken(text: str, value: float) -> None:
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["101", "101%", "100.01", "-1", "-0.5%", "", "%", "abc", "50%%", "1e2"])
def test_percentages_outside_0_to_100_or_not_numbers_are_refused(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_percent(text)
    assert refused.value.message == f"{text!r} is not a percentage from 0 to 100"
