"""Sizes and percentages as people type them: every unit of the table, the edges, the messages.

Expected values are worked out by hand: 1.5G = 1.5 x 1024^3 = 1610612736 bytes, 20GB = 20 x 10^9.
"""

from __future__ import annotations

import pytest

from vmtui.errors import UsageError
from vmtui.ops.sizes import parse_percent, parse_size, parse_size_kib


@pytest.mark.parametrize(
    ("text", "n_bytes"),
    [
        # A single letter and xiB are binary (virsh, qemu-img): M = MiB = 1048576 B; xB is decimal.
        ("1b", 1), ("1 byte", 1), ("3 bytes", 3), ("1B", 1),
        ("1k", 1024), ("1K", 1024), ("1KiB", 1024), ("1KB", 1000), ("1kb", 1000),
        ("512M", 536870912), ("512MiB", 536870912), ("512 mib", 536870912), ("512MB", 512000000),
        ("1.5G", 1610612736), ("1.5GiB", 1610612736), ("20GB", 20000000000), ("1g", 1073741824),
        ("2T", 2199023255552), ("2TiB", 2199023255552), ("2TB", 2000000000000),
        ("8P", 9007199254740992), ("1PiB", 1125899906842624), ("1PB", 1000000000000000),
        # 0 with a unit is a size (callers decide whether it is allowed); spaces and case do not matter.
        ("0M", 0), ("  10 G  ", 10737418240), ("0.5KiB", 512), ("1.25k", 1280),
    ],
)  # fmt: skip
def test_every_unit_converts_to_bytes_exactly(text: str, n_bytes: int) -> None:
    assert parse_size(text) == n_bytes


@pytest.mark.parametrize(
    ("text", "kib"),
    [
        ("1k", 1), ("1KiB", 1), ("2048b", 2), ("1024 byte", 1), ("3072 bytes", 3), ("1024000 B", 1000),
        ("1024KB", 1000), ("1m", 1024), ("1 MiB", 1024), ("1024mb", 1000000),
        ("1g", 1048576), ("1GiB", 1048576), ("1024 GB", 1000000000),
        ("1t", 1073741824), ("1TiB", 1073741824), ("1024TB", 1000000000000), ("1P", 1099511627776),
        ("0KiB", 0), ("  512 mIb  ", 524288), ("1.5GiB", 1572864), ("0.5m", 512), ("160MiB", 163840),
    ],
)  # fmt: skip
def test_every_unit_converts_to_kib_exactly(text: str, kib: int) -> None:
    assert parse_size_kib(text) == kib


@pytest.mark.parametrize(
    ("text", "shown"), [("512", "'512'"), ("0", "'0'"), (" 262144 ", "'262144'"), ("1.5", "'1.5'")]
)
def test_a_bare_number_is_refused_by_both_with_a_hint(text: str, shown: str) -> None:
    number = shown.strip("'")
    for parse in (parse_size, parse_size_kib):
        with pytest.raises(UsageError) as refused:
            parse(text)
        assert refused.value.message == f"size {shown} has no unit"
        assert refused.value.hint == (
            f"add one: {number}KiB, {number}MiB/{number}M, {number}GiB/{number}G (binary) or {number}MB (decimal)"
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "'' is not a size"),
        ("-1G", "'-1G' is not a size"),
        ("1e3M", "'1e3M' is not a size"),
        (".5G", "'.5G' is not a size"),
        ("G", "'G' is not a size"),
        ("1,5G", "'1,5G' is not a size"),
        ("12 parsecs", "'12 parsecs': unknown unit 'parsecs'"),
        ("1 KiBs", "'1 KiBs': unknown unit 'KiBs'"),
        ("1Q", "'1Q': unknown unit 'Q'"),
        ("1EiB", "'1EiB': unknown unit 'EiB'"),
    ],
)
def test_what_is_not_a_size_is_refused_with_a_reason(text: str, message: str) -> None:
    for parse in (parse_size, parse_size_kib):
        with pytest.raises(UsageError) as refused:
            parse(text)
        assert refused.value.message == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # 1.1 B; 1.0000001 KiB = 1024.0001024 B; 1.3 MiB = 1363148.8 B: not whole bytes, refused, not rounded.
        ("1.1B", "'1.1B' is 1.100 bytes, not a whole number of bytes"),
        ("1.0000001KiB", "'1.0000001KiB' is 1024.000 bytes, not a whole number of bytes"),
        ("1.3MiB", "'1.3MiB' is 1363148.800 bytes, not a whole number of bytes"),
    ],
)
def test_what_is_not_a_whole_number_of_bytes_is_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_size(text)
    assert refused.value.message == message
    assert refused.value.hint is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0000001KiB", "'1.0000001KiB' is 1.000 KiB, not a whole number of KiB"),
        # 1.3 MiB = 1331.2 KiB; 1 GB = 10^9 B = 976562.5 KiB; 1000 B = 0.977 KiB: refused, not rounded.
        ("1.3MiB", "'1.3MiB' is 1331.200 KiB, not a whole number of KiB"),
        ("1GB", "'1GB' is 976562.500 KiB, not a whole number of KiB"),
        ("1000b", "'1000b' is 0.977 KiB, not a whole number of KiB"),
        ("1025B", "'1025B' is 1.001 KiB, not a whole number of KiB"),
    ],
)
def test_what_is_not_a_whole_number_of_kib_is_refused_where_kib_are_asked_for(text: str, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_size_kib(text)
    assert refused.value.message == message
    assert refused.value.hint == "give it in KiB"


def test_the_hints_name_the_forms_that_work() -> None:
    with pytest.raises(UsageError) as bad:
        parse_size("lots")
    assert bad.value.hint == "a number and a unit: 512M, 512MiB, 1.5G, 20GB"
    with pytest.raises(UsageError) as unit:
        parse_size("2 furlongs")
    assert unit.value.hint == "B, KiB/k, MiB/M, GiB/G, TiB/T, PiB/P (binary), or KB, MB, GB, TB, PB (decimal)"


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
