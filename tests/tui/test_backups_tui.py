"""The domain screen's backups: listed, K backs up (full, then incremental) with the job's progress,
O restores the highlighted one as a new domain after asking its name and pool. On a real guest with a qcow2
disk; what the TUI did is checked with virsh and the files on the host, not with vmtui.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.guest_disks import LOCAL_URI, DiskGuest, virsh
from tests.tui.conftest import Recorder, wait_for
from vmtui.app import VmtuiApp
from vmtui.models import HostEntry
from vmtui.screens.domain import DomainScreen
from vmtui.screens.form import FormModal
from vmtui.tui.messages import JobProgressed

pytestmark = pytest.mark.timeout(120)


def restored_disk(name: str) -> Path:
    """The disk file of the restored domain `name`, which must exist on the host."""
    disk = Path(virsh("domblklist", name, "--details").split()[-1])
    assert disk.is_file(), disk
    return disk


async def test_backup_key_backs_up_and_restore_key_asks_then_restores_as_new(
    guest: DiskGuest, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = guest.dir / "backups"
    monkeypatch.setenv("VMTUI_BACKUP_DIR", str(root))
    copy = f"{guest.name}-copy"
    app = VmtuiApp([HostEntry("local", LOCAL_URI)], interval=1.0)
    seen = Recorder()
    # The guest's folder as a (transient) storage pool: a restored disk becomes one of its volumes.
    pool = f"vmtui-test-pool-{guest.uuid[:8]}"
    virsh("pool-create-as", pool, "dir", "--target", str(guest.dir))
    other, other_dir = f"vmtui-test-pool2-{guest.uuid[:8]}", guest.dir / "other-pool"
    other_dir.mkdir(mode=0o755)
    virsh("pool-create-as", other, "dir", "--target", str(other_dir))
    try:
        async with app.run_test(size=(200, 60), message_hook=seen) as pilot:
            await wait_for(pilot, lambda: guest.uuid in app.fleet.hosts["local"].domains)
            await pilot.press("slash", *guest.name.split("-")[2], "enter", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
            screen = app.screen
            assert isinstance(screen, DomainScreen)
            title = screen.query_one("#backups-title", Static)
            await wait_for(pilot, lambda: "Backups (0)" in str(title.render()))

            await pilot.press("K")
            await wait_for(pilot, lambda: "Backups (1)" in str(title.render()), 60)
            await pilot.press("K")
            await wait_for(pilot, lambda: "Backups (2)" in str(title.render()), 60)
            assert [b.kind for b in screen.backups] == ["full", "incremental"]
            steps = [m.step.text for m in seen.messages if isinstance(m, JobProgressed)]
            assert any(s.startswith("backing up") for s in steps), steps  # the job's progress reached the TUI
            # On the host: two backup folders with their manifests, and libvirt keeps the newest checkpoint.
            folders = sorted(p.parent.name for p in root.glob("*/*/manifest.json"))
            assert folders == [b.id for b in screen.backups]
            assert virsh("checkpoint-list", guest.uuid, "--name").split() == [screen.backups[1].checkpoint]

            await pilot.press("O")  # the highlighted one: the first, the full backup
            await wait_for(pilot, lambda: isinstance(app.screen, FormModal))
            app.screen.query_one("#form-name", Input).value = copy
            # Another pool than the backed-up disk's (`vmtui backup restore --pool`).
            app.screen.query_one("#form-pool", Input).value = other
            await pilot.press("enter", "enter")  # name, then pool: submits
            await wait_for(pilot, lambda: copy in virsh("list", "--all", "--name").split(), 60)
            assert restored_disk(copy).parent == other_dir
            assert f"{copy}-vda.qcow2" in virsh("vol-list", other).split()
            assert f"{copy}-vda.qcow2" not in virsh("vol-list", pool).split()
    finally:
        virsh("undefine", copy, check=False)
        virsh("pool-destroy", pool, check=False)
        virsh("pool-destroy", other, check=False)
