"""Sizes and percentages typed by people, converted exactly (no float on the way to bytes or KiB).

The one size parser of vmtui: balloon, vol-create, add-disk and every TUI form read sizes here. Units
follow virsh and qemu-img: a single letter or xiB is binary (k/KiB = 1024 bytes, M/MiB = 1024**2, on up
to P/PiB), xB is decimal (KB = 1000 bytes, MB = 1000**2, ...). A size needs a unit: a bare "512" is
refused, because virsh reads it as KiB, qemu-img as bytes, and one of the two would be a surprise
(options whose name carries their unit, such as `--bandwidth` in MiB/s, take plain numbers and do not
come here). "1.5G" is exactly 1610612736 bytes; a size that is not a whole number of bytes ("1.1B"),
or of KiB where KiB are asked for ("1.3MiB" = 1331.2 KiB), is refused rather than rounded.
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
    "p": 1024**5, "pib": 1024**5, "pb": 1000**5,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")
UNITS_HINT = "B, KiB/k, MiB/M, GiB/G, TiB/T, PiB/P (binary), or KB, MB, GB, TB, PB (decimal)"


def _exact_bytes(text: str) -> Fraction:
    """The number of bytes `text` says, as a fraction ("1.1B" is 11/10): both parsers below read with this."""
    match = _SIZE.match(text)
    if match is None:
        raise UsageError(f"{text!r} is not a size", hint="a number and a unit: 512M, 512MiB, 1.5G, 20GB")
    number, unit = match.groups()
    if not unit:
        raise UsageError(
            f"size {text.strip()!r} has no unit",
            hint=f"add one: {number}KiB, {number}MiB/{number}M, {number}GiB/{number}G (binary) or {number}MB (decimal)",
        )
    factor = _BYTES.get(unit.lower())
    if factor is None:
        raise UsageError(f"{text!r}: unknown unit {unit!r}", hint=UNITS_HINT)
    return Fraction(number) * factor


def parse_size(text: str) -> int:
    """`text` ("512M", "512MiB", "1.5 GiB", "20GB") in bytes, exactly; UsageError when it cannot be."""
    size = _exact_bytes(text)
    if size.denominator != 1:
        raise UsageError(f"{text!r} is {float(size):.3f} bytes, not a whole number of bytes")
    return int(size)


def parse_size_kib(text: str) -> int:
    """`text` read as `parse_size` reads it, in KiB (what libvirt's memory calls take); refused unless whole."""
    kib = _exact_bytes(text) / 1024
    if kib.denominator != 1:
        raise UsageError(f"{text!r} is {float(kib):.3f} KiB, not a whole number of KiB", hint="give it in KiB")
    return int(kib)


def parse_percent(text: str) -> float:
    """`text` ("80%", "80", "72.5%") as a number from 0 to 100."""
    match = _PERCENT.match(text)
    if match is None or not 0 <= float(match.group(1)) <= 100:
        raise UsageError(f"{text!r} is not a percentage from 0 to 100")
    return float(match.group(1))
