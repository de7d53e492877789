"""At 80x24 (the smallest terminal vmtui supports) the migrate dialog and the memory screen show
everything without scrolling: the options' full labels, the buttons, the first reasons, the KSM part.
And a graph with one sample, or only zeros, draws its lowest bar, not a full scale."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from tests.tui.conftest import SYSTEM_URI, _libvirt_ready, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.ops.migrate.precheck import Check, PrecheckReport
from vmtui.screens.memory import MemoryScreen
from vmtui.screens.migrate import MigrateModal
from vmtui.widgets.metric_graph import MetricGraph

pytestmark = pytest.mark.timeout(120)
SIZE = (80, 24)
SCREEN = Region(0, 0, *SIZE)


def screen_text(app: App[None]) -> str:
    """What the terminal shows, as plain text (the SVG screenshot without its tags)."""
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


def shown_whole(widget: Widget) -> bool:
    """The widget is on the screen, none of it cut by the screen's edge or a scrolling parent."""
    visible = widget.screen.find_widget(widget).region
    return widget.region == visible and SCREEN.contains_region(visible) and visible.area > 0


def report(target: str, *, refused: bool) -> PrecheckReport:
    """A target's pre-checks as the job reports them (the layout is under test, not the checks)."""
    cpu = "the target's CPU lacks avx512f, avx512dq and 12 more flags the guest was started with"
    checks = (
        Check("reachable", "reachable", "ok", ""),
        Check("cpu", "CPU model", "fail" if refused else "warn", cpu),
        Check("memory", "free memory", "warn", "1.2 GiB free on the target, 1 GiB needed: tight"),
    )
    return PrecheckReport("lab1-tcg-e1000", "u", "lab1", target, checks, 1 << 20, 1258291)


async def test_migrate_dialog_fits_80x24() -> None:
    app = VmtuiApp([])
    async with app.run_test(size=SIZE) as pilot:
        modal = MigrateModal("lab1-tcg-e1000", "lab1", ["lab2", "lab3"])
        app.push_screen(modal)
        await pilot.pause()
        modal.show_report("lab2", report("lab2", refused=False))
        modal.show_report("lab3", report("lab3", refused=True))
        await pilot.pause()
        for widget in modal.query("Checkbox, Button, #opt-bandwidth, #migrate-hosts"):
            assert shown_whole(widget), widget.id
        text = screen_text(app)
        for label in ("post-copy on stall", "auto-converge", "compressed", "temporary", "bandwidth MiB/s"):
            assert label in text
        assert "Migrate (enter)" in text
        assert "Cancel (esc)" in text
        assert "first reason" in text
        assert "ok (warnings)" in text
        # Cut where the column ends, and said so; the whole reason is under the table.
        assert "the target's CPU lacks avx512f, avx512d…" in text
        assert "and 12 more flags" in text


async def test_memory_screen_shows_ksm_at_80x24() -> None:
    if not _libvirt_ready():
        pytest.skip("needs the local libvirtd (qemu:///system)")
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].tick is not None)
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and bool(app.ksm_history.get("local")))
        await pilot.pause()
        screen = app.screen
        for widget in screen.query("#memory-ksm, #g-ksm-saved, #g-ksm-cpu"):
            assert shown_whole(widget), widget.id
        text = screen_text(app)
        assert "KSM saved: " in text
        assert "ksmd CPU % (cost): " in text
        assert "KSM " in str(screen.query_one("#memory-ksm").render())
        if len(app.ksm_history["local"]) == 1:  # the first sample: its graph is no full scale
            assert "█" not in text


class OneGraph(App[None]):
    def __init__(self, values: Sequence[float]) -> None:
        super().__init__()
        self.values = values

    def compose(self) -> ComposeResult:
        yield MetricGraph("KSM saved", lambda v: f"{v:.0f} B")

    def on_mount(self) -> None:
        self.query_one(MetricGraph).show(self.values)


@pytest.mark.parametrize("values", [[0.0], [5.0e9], [0.0, 0.0, 0.0]], ids=["first-0", "first-5G", "zeros"])
async def test_a_single_or_flat_series_draws_the_lowest_bar(values: list[float]) -> None:
    app = OneGraph(values)
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "▁" * 40 in text  # every column at the lowest bar
        assert "█" not in text
