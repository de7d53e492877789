"""Templates, linked clones, delete and disk resize by key (Pilot, real local libvirtd; virsh the witness).

One guest on a fresh 16 MiB qcow2 base in a test pool (`tests.clone_pool`), removed with the pool
afterwards whatever happened: marked a template by key, cloned linked by key (the clone's row and its
overlay volume appear), the clone deleted by key with its storage (the question names the overlay as
removed and the base as kept), then the template's disk grown from the devices screen.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pycdlib
import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, DataTable, Input, Label

from tests.clone_pool import (
    ClonePool,
    Template,
    clone_pool,
    define_template,
    virsh,
    vol_field,
    volumes,
    what_exists,
)
from tests.tui.conftest import wait_for
from vmtui.app import VmtuiApp
from vmtui.drivers import connect
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.screens.provision import CloneForm, DeleteForm, ResizeForm
from vmtui.widgets.refusals import Refusals

pytestmark = pytest.mark.timeout(150)

MIB = 1024 * 1024


def form_text(app: VmtuiApp, part: str) -> str:
    label = app.screen.query_one(f"#form-{part}", Label)
    shown = label.render()
    return shown.plain if isinstance(shown, Text) else str(shown)


def names_on_host() -> list[str]:
    return virsh("list", "--all", "--name").split()


async def open_domain(app: VmtuiApp, pilot: Pilot[Any], name: str) -> DomainScreen:
    """From the dashboard: the domain filtered in, Enter, its screen."""
    while not isinstance(app.screen, type(app.host_screen)):
        app.pop_screen()
        await pilot.pause()
    await wait_for(pilot, lambda: any(d.name == name for d in app.fleet.hosts["local"].domains.values()), 30)
    await pilot.press("escape", "slash", *f"^{name}$", "enter", "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
    assert isinstance(app.screen, DomainScreen)
    return app.screen


async def opened(pilot: Pilot[Any], app: VmtuiApp, kind: type) -> None:
    """Wait for the screen `kind` on top; failing, say what the app said instead (a refusal)."""
    try:
        await wait_for(pilot, lambda: isinstance(app.screen, kind), 30)
    except AssertionError:
        said = [n.message for n in app.notes if "steal" not in n.message]
        raise AssertionError(f"no {kind.__name__}; the app said: {said}") from None


async def press_when_offered(pilot: Pilot[Any], app: VmtuiApp, key: str, action: str, opens: type) -> None:
    """Press `key` once the screen offers `action`, until `opens` is on top: on a loaded machine a sample
    can be late, and the keys that change a host are refused while it is ("local has not answered for
    4 s"): the key then says so and is pressed again once offered."""
    screen = app.screen
    assert isinstance(screen, Refusals)
    for _try in range(5):
        await wait_for(pilot, lambda: screen.refusal(action, ()) is None, 60)
        await pilot.press(key)
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, opens), 5)
            return
        except AssertionError:
            continue
    await opened(pilot, app, opens)


async def submit(pilot: Pilot[Any], app: VmtuiApp) -> None:
    """OK, once the host answers (a change asked of a host that is late is refused, as the keys are)."""
    await wait_for(pilot, lambda: app.fleet.write_refusal(app.fleet.hosts["local"]) is None, 60)
    app.screen.query_one("#ok", Button).press()
    await pilot.pause(0.1)


async def test_template_linked_clone_delete_and_grow_by_key() -> None:
    with clone_pool() as pool, connect("qemu:///system") as conn:
        tpl = define_template(pool, "tpl", kvm=conn.host_info(probe=False).kvm_usable)
        app = VmtuiApp([HostEntry("local", "qemu:///system")], interval=1.0)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await open_domain(app, pilot, tpl.name)
            await clone_refused_in_place_until_marked(app, pilot, pool)
            await press_when_offered(pilot, app, "ctrl+t", "template", ConfirmModal)  # asks first
            await pilot.press("y")
            await wait_for(pilot, lambda: 'template="yes"' in virsh("dumpxml", "--inactive", tpl.name), 30)
            await wait_for(pilot, lambda: (f := app.fleet.find(tpl.uuid)) is not None and bool(f[1] and f[1].template))
            assert app.screen is screen
            await clone_offered_on_the_dashboard(app, pilot, tpl)
            await open_domain(app, pilot, tpl.name)
            clone = await clone_linked_by_key(app, pilot, pool, tpl)
            await delete_with_storage_by_key(app, pilot, pool, tpl, clone)
            await grow_by_key(app, pilot, tpl)


async def clone_refused_in_place_until_marked(app: VmtuiApp, pilot: Pilot[Any], pool: ClonePool) -> None:
    """Linked on a domain that is no template: the ops' refusal, in the form, and nothing made."""
    before = what_exists(pool)
    await press_when_offered(pilot, app, "Y", "clone", CloneForm)
    assert app.screen.query_one("#form-linked", Checkbox).value is False  # offered ticked on a template only
    app.screen.query_one("#form-linked", Checkbox).value = True
    await submit(pilot, app)
    assert isinstance(app.screen, CloneForm)
    assert "it is not a template; linked clones need a base that never changes" in form_text(app, "error")
    await pilot.press("escape")
    assert what_exists(pool) == before


async def clone_offered_on_the_dashboard(app: VmtuiApp, pilot: Pilot[Any], tpl: Template) -> None:
    """Y on the template's row opens the same form, linked ticked (Esc: nothing made)."""
    app.pop_screen()
    await pilot.pause()
    assert app.screen is app.host_screen
    assert app.host_screen.selected_uuid() == tpl.uuid
    await press_when_offered(pilot, app, "Y", "clone", CloneForm)
    assert form_text(app, "title") == f"Clone template {tpl.name} on local"
    assert app.screen.query_one("#form-linked", Checkbox).value is True
    await pilot.press("escape")


async def clone_linked_by_key(app: VmtuiApp, pilot: Pilot[Any], pool: ClonePool, tpl: Template) -> str:
    clone = f"{tpl.name}-l"
    await press_when_offered(pilot, app, "Y", "clone", CloneForm)
    assert app.screen.query_one("#form-linked", Checkbox).value is True
    app.screen.query_one("#form-name", Input).value = clone
    app.screen.query_one("#form-hostname", Input).value = "tui-clone-host"  # clone's --hostname: a seed of its own
    await submit(pilot, app)
    await wait_for(pilot, lambda: clone in names_on_host(), 60)
    # Its row on the dashboard: libvirt's define event reached the poller.
    await wait_for(pilot, lambda: any(d.name == clone for d in app.fleet.hosts["local"].domains.values()), 30)
    overlay = pool.path / f"{clone}-vda.qcow2"
    assert overlay.name in volumes(pool)
    assert f"<path>{tpl.base}</path>" in virsh("vol-dumpxml", str(overlay))  # its backing store: the base
    assert "local-hostname: tui-clone-host" in seed_meta_data(pool.path / f"{clone}-seed.iso")
    return clone


def seed_meta_data(iso_path: Path) -> str:
    """The meta-data file of a NoCloud seed, read back from the pool's file."""
    iso = pycdlib.PyCdlib()
    iso.open(str(iso_path))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/meta-data")
        return out.getvalue().decode()
    finally:
        iso.close()


async def delete_with_storage_by_key(
    app: VmtuiApp, pilot: Pilot[Any], pool: ClonePool, tpl: Template, clone: str
) -> None:
    overlay = pool.path / f"{clone}-vda.qcow2"
    await open_domain(app, pilot, clone)
    await press_when_offered(pilot, app, "delete", "delete_domain", DeleteForm)
    await wait_for(pilot, lambda: "Removed:" in form_text(app, "title"), 30)
    lines = form_text(app, "title").splitlines()
    assert f"Removed: {overlay}" in lines
    assert f"Kept: {tpl.base} (the base it was cloned from: only its template's)" in lines
    assert f"Kept: {pool.iso}" in lines  # the shared CD-ROM, in no pool
    app.screen.query_one("#form-storage", Checkbox).value = True
    await submit(pilot, app)
    await wait_for(pilot, lambda: clone not in names_on_host(), 60)
    assert overlay.name not in volumes(pool)
    assert f"{clone}-seed.iso" not in volumes(pool)  # its own seed went with it
    assert tpl.base.name in volumes(pool)
    assert tpl.base.is_file()


async def grow_by_key(app: VmtuiApp, pilot: Pilot[Any], tpl: Template) -> None:
    await open_domain(app, pilot, tpl.name)
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen) and app.screen.report is not None, 30)
    screen = app.screen
    assert isinstance(screen, DevicesScreen)
    assert screen.report is not None
    row = [a.device.name for a in screen.report.devices].index("vda")
    screen.query_one("#dev-table", DataTable).move_cursor(row=row)
    await pilot.pause()
    await press_when_offered(pilot, app, "g", "resize", ResizeForm)
    await wait_for(pilot, lambda: "16 MiB now" in form_text(app, "title"), 30)
    size_field = app.screen.query_one("#form-size", Input)
    size_field.value = "8M"  # smaller than 16 MiB: refused in place
    await submit(pilot, app)
    assert isinstance(app.screen, ResizeForm)
    assert "shrinking it to 8.0 MiB is refused" in form_text(app, "error")
    assert vol_field(tpl.base, "Capacity") == str(16 * MIB)
    size_field.value = "+16M"
    await submit(pilot, app)
    await wait_for(pilot, lambda: vol_field(tpl.base, "Capacity") == str(32 * MIB), 60)
