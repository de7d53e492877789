"""The text helpers both faces draw with (`vmtui.richtext`): expected strings and styles written by hand."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from vmtui.drivers.resources import Lease, NetworkInfo
from vmtui.explain import Severity
from vmtui.models import DeviceClass
from vmtui.richtext import (
    SEVERITY_STYLE,
    device_class_text,
    lease_cells,
    lit,
    network_cells,
    state_text,
    tdp_text,
    usage_bar,
    yes_no,
)


def styled(text: Text) -> list[tuple[str, str]]:
    """Each run of `text` with its style, as a reader sees it: [("███", "yellow"), ("░", "dim"), ...]."""
    return [(seg.text, str(seg.style or "")) for seg in text.render(Console(width=200))]


def test_lit_keeps_markup_literal_and_hides_control_characters() -> None:
    text = lit("[b]x\x1b[31m", "bold")
    assert text.plain == "[b]x?[31m"
    assert str(text.style) == "bold"


def test_yes_no_reads_yes_no_or_dash() -> None:
    assert (yes_no(True).plain, str(yes_no(True).style)) == ("yes", "green")
    assert (yes_no(False).plain, str(yes_no(False).style)) == ("no", "dim")
    assert (yes_no(None).plain, str(yes_no(None).style)) == ("-", "dim")


def test_state_text_colours_known_states_only() -> None:
    assert str(state_text("running").style) == "green"
    assert str(state_text("crashed").style) == "bold red"
    assert (state_text("pmsuspended").plain, str(state_text("pmsuspended").style)) == ("pmsuspended", "")


def test_severity_styles() -> None:
    assert SEVERITY_STYLE == {
        Severity.HIGH: "bold red",
        Severity.MEDIUM: "yellow",
        Severity.LOW: "cyan",
        Severity.INFO: "dim",
    }


def test_usage_bar_fills_and_colours_by_use() -> None:
    # 42 % of 12 cells is 5.04: five cells filled, seven empty; below 75 % the fill is green.
    assert usage_bar(0.42).plain == "█████░░░░░░░ 42.0%"
    # The whole bar carries the fill's colour (rich's `+` keeps the first part's style), the empty
    # cells dimmed on top: as both faces drew it before the helpers were one (TUI snapshots pin it).
    assert styled(usage_bar(0.42))[:2] == [("█████", "green"), ("░░░░░░░", "dim green")]
    # 80 % of 10 cells: eight filled, yellow from 75 %.
    assert styled(usage_bar(0.8, 10))[:3] == [("████████", "yellow"), ("░░", "dim yellow"), (" 80.0%", "yellow")]
    # 95 %: 11.4 cells round to 11, red from 90 %.
    assert styled(usage_bar(0.95))[0] == ("███████████", "red")


def test_usage_bar_clamps_and_shows_unknown() -> None:
    assert usage_bar(1.5, 4).plain == "████ 150.0%"
    assert usage_bar(None).plain == "············ -"
    assert str(usage_bar(None, 3).style) == "dim"


def _net(**over: object) -> NetworkInfo:
    base: dict[str, object] = {
        "name": "default",
        "uuid": "u",
        "active": True,
        "autostart": True,
        "persistent": True,
        "forward": "nat",
        "bridge": "virbr0",
        "addresses": ("192.168.122.1/24", "fd00::1/64"),
        "dhcp": True,
    }
    base.update(over)
    return NetworkInfo(**base)  # type: ignore[arg-type]


def test_network_cells() -> None:
    cells = network_cells(_net())
    assert [c.plain for c in cells] == ["default", "yes", "yes", "nat", "virbr0", "192.168.122.1/24, fd00::1/64", "yes"]
    assert str(cells[0].style) == "bold"


def test_network_cells_transient_without_bridge_or_address() -> None:
    cells = network_cells(_net(name="[red]n", persistent=False, active=False, bridge="", addresses=(), dhcp=False))
    assert [c.plain for c in cells] == ["[red]n", "no", "-", "nat", "-", "-", "no"]


def _lease_row(lease: Lease) -> list[str]:
    return [c.plain if isinstance(c, Text) else c for c in lease_cells(lease, now=1000.0)]


def test_lease_cells() -> None:
    lease = Lease("default", "52:54:00:aa:bb:cc", "192.168.122.5", 24, "ipv4", "web", "", 1000 + 55 * 60, "web1")
    assert _lease_row(lease) == ["52:54:00:aa:bb:cc", "192.168.122.5/24", "web", "web1", "in 55 min"]
    orphan = Lease("default", "52:54:00:aa:bb:cd", "fd00::5", 0, "ipv6", "", "", 0)
    assert _lease_row(orphan) == ["52:54:00:aa:bb:cd", "fd00::5", "-", "(no domain has this MAC)", "never"]


def test_device_class_text() -> None:
    assert [(t.plain, str(t.style)) for t in map(device_class_text, ["paravirtual", "emulated", "passthrough"])] == [
        ("paravirtual", "green"),
        ("emulated", "bold yellow"),
        ("passthrough", "cyan"),
    ]
    assert (device_class_text(DeviceClass.OTHER).plain, str(device_class_text(DeviceClass.OTHER).style)) == (
        "other",
        "dim",
    )


def test_tdp_text() -> None:
    assert [(t.plain, str(t.style)) for t in map(tdp_text, [True, False, None])] == [
        ("on", "green"),
        ("off (shadow paging)", "bold red"),
        ("unknown", "dim"),
    ]
