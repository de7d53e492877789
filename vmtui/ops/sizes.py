"""Sizes and percentages typed by people, converted exactly (no float on the way to KiB).

Units follow virsh's `setmem`/`<memory unit=...>` table: k/KiB = 1024 bytes, KB = 1000 bytes, and so
on up to T/TiB/TB; a bare number is KiB, as in virsh. "1.5GiB" is exactly 1572864 KiB; a size that is
not a whole number of KiB ("1.3MiB" = 1331.2 KiB) is refused rather than rounded.
"""

from __future__ import annotations

import re
from fractions import Fraction

from vmtui.errors import UsageError

_BYTES = {
    "b": 1, "byte": 1, "bytes": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def parse_size_kib(text: str) -> int:
    """`text` ("512MiB", "1.5 GiB", "2G", "262144") in KiB, exactly; UsageError when it cannot be."""
    match = _SIZE.match(text)
    if match is None:
        raise UsageError(f"{text!r} is not a size", hint="a number and a unit: 512MiB, 1.5GiB, 2G (no unit: KiB)")
    number, unit = match.groups()
    factor = _BYTES.get(unit.lower() or "kib")
    if factor is None:
        raise UsageError(f"{text!r}: unknown unit {unit!r}", hint="B, KiB/k, MiB/M, GiB/G, TiB/T, or KB, MB, GB, TB")
    kib = Fraction(number) * factor / 1024
    if kib.denominator != 1:
        raise UsageError(f"{text!r} is {float(kib):.3f} KiB, not a whole number of KiB", hint="give it in KiB")
    return int(kib)


def parse_percent(text: str) -> float:
    """`text` ("80%", "80", "72.5%") as a number from 0 to 100."""
    match = _PERCENT.match(text)
    if match is None or not 0 <= float(match.group(1)) <= 100:
        raise UsageError(f"{text!r} is not a percentage from 0 to 100")
    return float(match.group(1))
