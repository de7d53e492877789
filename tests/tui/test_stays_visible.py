"""What must stay visible at 200x50, 120x40 and 80x24 (issue 27, item 8): the host's features and versions,
a migration's target in the HOST cell, a pre-check's whole reason, the vCPU headers, and the key columns
of the domains table when it scrolls sideways."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from tests.tui.conftest import RECORDING, SYSTEM_URI, _libvirt_ready, wait_for
from tests.tui.test_fits_80x24 import screen_text
from tests.tui_reading import replay_finished
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.models import HostEntry
from vmtui.ops.migrate.precheck import Check, PrecheckReport
from vmtui.present import one_line
from vmtui.screens.migrate import MigrateModal
from vmtui.tui.fleet import DomainRow
from vmtui.widgets.domain_table import DomainTable

pytestmark = pytest.mark.timeout(120)
SIZES = [(200, 50), (120, 40), (80, 24)]
SIZE_IDS = ["200x50", "120x40", "80x24"]


def virsh_versions() -> tuple[str, str]:
    """(QEMU's version, libvirt's), as virsh reports them: worked out apart from vmtui."""
    out = subprocess.run(
        ["virsh", "-c", SYSTEM_URI, "version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    qemu = re.search(r"Running hypervisor: QEMU (\S+)", out)
    libvirt = re.search(r"Using library: libvirt (\S+)", out)
    assert qemu, out
    assert libvirt, out
    return qemu.group(1), libvirt.group(1)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_the_hosts_pane_keeps_kvm_ept_and_versions(size: tuple[int, int]) -> None:
    if not _libvirt_ready():
        pytest.skip("needs the local libvirtd (qemu:///system)")
    qemu, libvirt = virsh_versions()
    app = VmtuiApp([HostEntry("local", SYSTEM_URI)])
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].tick is not None)
        await wait_for(pilot, lambda: f"libvirt {libvirt}" in screen_text(app))
        text = screen_text(app)
        assert re.search(r"KVM (yes|no)", text), text
        assert re.search(r"EPT/NPT (on|off \(shadow paging\)|unknown)", text), text
        assert f"QEMU {qemu}" in text
        assert "overcommit " in text


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_the_hosts_pane_keeps_a_disconnect_reason_whole(size: tuple[int, int], tmp_path: Path) -> None:
    socket = tmp_path / "a-directory-with-a-long-name-so-that-the-reason-is-long" / "libvirt-sock"
    app = VmtuiApp([HostEntry("gone", f"qemu+unix:///system?socket={socket}")], backoff=(30.0, 30.0))
    async with app.run_test(size=size) as pilot:
        view = app.fleet.hosts["gone"]
        await wait_for(pilot, lambda: view.status == "disconnected" and bool(view.reason))
        await pilot.pause()
        assert str(socket) in (view.reason or "")
        text = squeezed(screen_text(app))
        assert "disconnectedsince" in text
        assert squeezed(one_line(view.reason or "", 400)) in text


class OneTable(App[None]):
    """The domains table alone, fed rows as the fleet would."""

    def __init__(self, rows: list[DomainRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DomainTable()

    def on_mount(self) -> None:
        table = self.query_one(DomainTable)
        for host in sorted({r.host for r in self.rows}):
            table.update_host(host, [r for r in self.rows if r.host == host])


def domain(
    name: str, host: str = "lab1", *, state: str = "running", cpu: float | None = 1.0, **kw: object
) -> DomainRow:
    row = DomainRow(name, host, name, state, "kvm", 1, cpu, 0.0, 0.5, 1 << 20, 2 << 20, 0.0, 0.0, 10.0)
    return replace(row, **kw)  # type: ignore[arg-type]


def table_lines(app: App[None]) -> list[str]:
    """The table's lines as it draws them on the terminal (header first)."""
    table = app.query_one(DomainTable)
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_a_migrating_rows_host_cell_names_both_hosts(size: tuple[int, int]) -> None:
    rows = [domain("lab1-linux", target="lab2"), domain("lab2-linux", "lab2")]
    app = OneTable(rows)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        lines = table_lines(app)
        assert any(line.startswith("lab1→lab2 lab1-linux") for line in lines), lines
        assert any(line.startswith("lab2      lab2-linux") for line in lines), lines


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_scrolled_sideways_the_host_and_name_stay(size: tuple[int, int]) -> None:
    rows = [domain("lab1-linux"), domain("lab2-linux", "lab2")]
    app = OneTable(rows)
    async with app.run_test(size=size) as pilot:
        table = app.query_one(DomainTable)
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        table.scroll_to(x=table.max_scroll_x, animate=False)
        await pilot.pause()
        lines = table_lines(app)
        # HOST and NAME in their own columns (the sort arrow has a cell of its own beside each title).
        assert re.match(r"HOST +NAME", lines[0]), lines
        # The last column's title at the right edge: scrolled all the way when the table is wider than the screen.
        assert lines[0].endswith("EXITS/s"), lines
        assert re.match(r"lab1 +lab1-linux ", lines[1]), lines
        assert re.match(r"lab2 +lab2-linux ", lines[2]), lines


LONG_PATH = "/var/lib/libvirt/images/vmtui-lab-44/lab1-linux-with-a-long-name.qcow2"
STORAGE = (
    f"vda ({LONG_PATH}): the same file on both hosts, outside any storage pool: libvirt migrates it only on a "
    "filesystem it calls shared (NFS, GlusterFS, Ceph...)"
)


def squeezed(text: str) -> str:
    """`text` without blanks and box edges: wrapped lines read as one."""
    return re.sub(r"[\s│┃╭╮╰╯─█▄▀]", "", text)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_the_pre_checks_reasons_read_whole(size: tuple[int, int]) -> None:
    checks = (
        Check("reachable", "reachable", "ok", ""),
        Check("cpu", "CPU model", "warn", "the target's CPU lacks avx512f, avx512dq and 12 more flags the guest uses"),
        Check("memory", "free memory", "warn", "1.2 GiB free on the target, 1 GiB needed: tight"),
        Check("storage", "storage reachable from the target", "warn", STORAGE),
    )
    app = VmtuiApp([])
    async with app.run_test(size=size) as pilot:
        modal = MigrateModal("lab1-linux", "lab1", ["lab2"])
        app.push_screen(modal)
        await pilot.pause()
        modal.show_report("lab2", PrecheckReport("lab1-linux", "u", "lab1", "lab2", checks, 1 << 20, 1258291))
        await pilot.pause()
        text = squeezed(screen_text(app))
        for check in checks[1:]:
            assert squeezed(check.reason) in text, check.label
        assert "Migrate (enter)" in screen_text(app)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_the_vcpu_tables_headers_fit(size: tuple[int, int]) -> None:
    app = VmtuiApp(replay_entries(RECORDING), interval=0.05, clock=lambda: 1_800_000_000.0)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: replay_finished(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "vCPUs" in screen_text(app))
        await pilot.pause()
        vcpus = app.screen.query_one("#vcpus")
        lines = [strip.text for strip in vcpus.render_lines(Region(0, 0, vcpus.size.width, vcpus.size.height))]
        # One line, every title whole: nothing folded onto the next line, nothing cut with an ellipsis.
        assert re.search(r"vCPU +CPU +% +steal% +exits/s", lines[1]), lines
        assert "…" not in "".join(lines[:2]), lines


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_names_that_differ_at_the_end_stay_apart(size: tuple[int, int]) -> None:
    # Found by the tmux walk: at 80 columns three rows read "vmtui-test-walk-cb5…", the letter that tells
    # them apart cut off. A long HOST leaves NAME its least (16 cells at 80 columns).
    rows = [domain(f"vmtui-test-walk-cb5b-{n}", "qemu+ssh://root@kvm-host-01/system") for n in "ab"]
    app = OneTable(rows)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        lines = table_lines(app)
        for line, letter in zip(lines[1:3], "ab", strict=True):
            name = re.search(r"(vmtui-t\S*)", line)
            assert name, lines
            assert name.group(1).endswith(f"-cb5b-{letter}"), lines
