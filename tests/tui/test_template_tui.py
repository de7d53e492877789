"""The dashboard shows a template as such and offers no start (Pilot, real local libvirtd)."""

from __future__ import annotations

import pytest

from tests.clone_pool import clone_pool, define_template, virsh
from tests.tui.conftest import Recorder, offered, wait_for
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.models import HostEntry
from vmtui.ops.clone import mark_template
from vmtui.tui.messages import ActionRequested, JobFinished
from vmtui.widgets.domain_table import DomainTable, format_row

pytestmark = pytest.mark.timeout(120)


async def test_a_template_reads_template_and_its_start_is_refused_with_the_reason() -> None:
    with clone_pool() as pool, connect("qemu:///system") as conn:
        made = define_template(pool, "tpl", kvm=conn.host_info(probe=False).kvm_usable)
        app = VmtuiApp([HostEntry("local", "qemu:///system")], interval=0.3)
        seen = Recorder()
        async with app.run_test(size=(200, 50), message_hook=seen) as pilot:
            table = app.host_screen.query_one(DomainTable)
            await wait_for(pilot, lambda: (r := table.row(made.uuid)) is not None and r.state == "shut-off")
            # Marked by another client while the TUI watches: libvirt's metadata event makes it re-read the domain.
            mark_template(conn, made.name)
            await wait_for(pilot, lambda: (r := table.row(made.uuid)) is not None and r.state == "template")
            row = table.row(made.uuid)
            assert row is not None
            assert row.state == "template"
            assert "template" in format_row(row, table.columns).split()
            await pilot.press("slash", *made.name, "enter")
            assert table.cursor_uuid == made.uuid
            assert "u" not in offered(app.screen)  # no start in the footer
            await pilot.press("u")  # pressed anyway: it says why
            await wait_for(pilot, lambda: seen.said("it is a template: clone it"))
            # A request that gets through anyway (the palette, a script) is refused before any job starts.
            app.post_message(ActionRequested(made.uuid, "start"))
            await wait_for(pilot, lambda: seen.said(f"Start {made.name}: it is a template: clone it"))
            assert [m for m in seen.of(JobFinished) if isinstance(m, JobFinished) and m.uuid == made.uuid] == []
        assert virsh("domstate", made.name).strip() == "shut off"
