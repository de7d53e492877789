"""The dashboard's create form (key n): refusals said in place before anything is made, the plan (the
dry run's lines) confirmed, the creation's progress, the new row; on the local libvirtd, with virsh as
the witness. A file named with markup (`[b]x`) and a markup host name are shown as typed.

Everything lives in a directory pool of the test's own (tests/clone_pool.py): its domains, volumes and
pool are removed afterwards, also when the test fails.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from textual.widgets import Checkbox, Input, Label, Static

from tests.clone_pool import LOCAL_URI, ClonePool, clone_pool, virsh, volumes
from tests.tui.conftest import Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.confirm import ConfirmModal
from vmtui.screens.create import CreateForm, CreateScreen
from vmtui.tui.messages import JobProgressed

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def pool() -> Iterator[ClonePool]:
    """The test's pool, and beside it (removed with it) two client files named with markup: a text file
    and an 8 MiB qcow2."""
    with clone_pool() as made:
        (made.iso.parent / "[b]notes.txt").write_text("not a disk\n" * 100)
        image = made.iso.parent / "[b]x.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "8M"], check=True, timeout=30)
        image.chmod(0o644)
        yield made


def fill(form: CreateForm, **values: str) -> None:
    for key, value in values.items():
        form.query_one(f"#form-{key}", Input).value = value


def said_in_place(form: CreateForm) -> str:
    return str(form.query_one("#form-error", Label).render())


async def test_create_form_refuses_in_place_then_plans_confirms_and_creates_with_progress(pool: ClonePool) -> None:
    name = f"{pool.prefix}-new"
    not_disk, image = pool.iso.parent / "[b]notes.txt", pool.iso.parent / "[b]x.qcow2"
    # A 5 s interval: on a loaded machine a 1 s poller's late sample makes the host stale (writes refused).
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=5.0)
    seen = Recorder()
    async with app.run_test(size=(200, 60), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["local"].status == "connected")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateForm))
        form = app.screen
        assert isinstance(form, CreateForm)
        fill(form, name=name, image=str(not_disk), memory="128MiB", pool=pool.name, network="user")
        form.query_one("#form-start", Checkbox).value = True

        form.submit()  # (Enter in the last field does this)
        await wait_for(pilot, lambda: "not a disk image" in said_in_place(form))
        assert str(not_disk) in said_in_place(form)  # the markup file name as it is
        assert form.is_current  # still open
        assert form.query_one("#form-name", Input).value == name  # nothing typed is lost

        fill(form, image=str(image), hostname="[b]x")
        form.submit()
        await wait_for(pilot, lambda: "checking" not in said_in_place(form))
        assert "not a valid host name" in said_in_place(form), said_in_place(form)
        assert "'[b]x'" in said_in_place(form)

        fill(form, hostname="made-by-form")
        form.submit()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        listed = [str(w.render()) for w in app.screen.query("#confirm-listed Label").results(Label)]
        # The dry run's lines, the file's name literally, and the domain XML under them.
        assert listed[0] == f"plan for {name} on {LOCAL_URI} (dry run: nothing is made)"
        assert any(f"from {image} in pool {pool.name}" in line for line in listed), listed
        assert any("cloud-init: hostname made-by-form" in line for line in listed), listed
        assert f"<name>{name}</name>" in "\n".join(listed)
        assert virsh("list", "--all", "--name").split().count(name) == 0  # nothing made before the Yes
        await pilot.press("y")

        await wait_for(pilot, lambda: isinstance(app.screen, CreateScreen))
        screen = app.screen
        assert isinstance(screen, CreateScreen)
        await wait_for(pilot, lambda: screen.ended is not None, 30)
        assert screen.ended == f"created {name}: running"
        assert "100.0 %" in str(screen.query_one("#create-bar", Static).render())
        # The job's steps reached the screen, the client file's markup name as it is.
        logged = [line.plain for line in screen.log_lines]
        assert f"uploading {image} as {name}.qcow2" in logged, logged
        assert f"starting {name}" in logged
        steps = [m.step for m in seen.of(JobProgressed) if isinstance(m, JobProgressed)]
        uploads = [s for s in steps if s.data.get("type") == "progress"]
        assert uploads, [s.text for s in steps]
        assert uploads[-1].fraction == 1.0
        assert any(s.text.startswith(f"uploading {image}") for s in steps), [s.text for s in steps]
        await wait_for(pilot, lambda: any(d.name == name for d in app.fleet.hosts["local"].domains.values()), 15)

    assert virsh("domstate", name).strip() == "running"
    assert volumes(pool) == sorted([f"{name}.qcow2", f"{name}-seed.iso"])
    # The disk and the seed are the pool's volumes (domblklist names a volume disk by its volume).
    assert virsh("domblklist", name).split()[-4:] == ["vda", f"{name}.qcow2", "sda", f"{name}-seed.iso"]
    assert f"<source pool='{pool.name}' volume='{name}.qcow2'/>" in virsh("dumpxml", "--inactive", name)


async def test_create_key_is_refused_with_its_reason_on_a_read_only_host() -> None:
    app = VmtuiApp([HostEntry("ro", "test:///default", read_only=True)], interval=1.0)
    seen = Recorder()
    async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
        await wait_for(pilot, lambda: app.fleet.hosts["ro"].status == "connected")
        await pilot.press("n")
        # The key itself is refused (off the footer, its twin says why), before any form or job.
        await wait_for(pilot, lambda: seen.said("ro is connected read-only"))
        assert [(n.title, n.message) for n in seen.notes()] == [
            ("not offered", "Create a VM on the host: ro is connected read-only")
        ]
        assert not isinstance(app.screen, CreateForm)
