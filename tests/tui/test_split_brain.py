"""One UUID running on two watched hosts (another tool started it after a temporary migration): the
dashboard shows both rows, each marked with the other host, and the hosts pane's counts match the
rows. Replayed from a recording of two real lab hosts, with lab2-tcg-e1000 (its facts and samples)
copied onto lab1 the way `virsh start` after `migrate --temporary` leaves it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.tui.conftest import FIXTURES, wait_for
from tests.tui_reading import replay_finished, visible_uuids
from vmtui.app import VmtuiApp
from vmtui.drivers.replay import replay_entries
from vmtui.screens.domain import DomainScreen
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.hosts_pane import HostsPane

TWIN = "lab2-tcg-e1000"


def split_recording(out: Path) -> str:
    """The lab recording with TWIN running on lab1 too; returns TWIN's UUID."""
    lines = [json.loads(line) for line in (FIXTURES / "lab-2hosts.jsonl").read_text().splitlines()]
    header, samples = lines[0], lines[1:]
    facts = next(d for d in header["hosts"]["lab2"]["domains"] if d["name"] == TWIN)
    header["hosts"]["lab1"]["domains"].append(facts)
    lab2_samples = iter(s for s in samples if s["host"] == "lab2")
    for sample in samples:
        if sample["host"] == "lab1":
            twin = next(d for d in next(lab2_samples)["domains"] if d["name"] == TWIN)
            assert twin["raw"]["state.state"] == 1  # running, as libvirt reported it on lab2
            sample["domains"].append(twin)
    out.write_text("\n".join(json.dumps(line) for line in [header, *samples]) + "\n")
    return str(facts["uuid"])


async def test_same_uuid_on_two_hosts_shows_two_marked_rows(tmp_path: Path) -> None:
    recording = tmp_path / "split.jsonl"
    uuid = split_recording(recording)
    app = VmtuiApp(replay_entries(recording), interval=0.05, clock=lambda: 1_800_000_000.0)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: replay_finished(app))
        await pilot.pause()
        table = app.host_screen.query_one(DomainTable)
        # Counted by hand from the recording: lab1 had 4 guests and gets the copy, lab2 has 2.
        assert len(visible_uuids(table)) == 7
        assert visible_uuids(table).count(uuid) == 2
        states = {r.host: r.state for r in table.rows_of(uuid)}
        assert states == {"lab1": "running (also on lab2)", "lab2": "running (also on lab1)"}
        pane = str(app.host_screen.query_one(HostsPane).render())
        assert "5 domains (5 active)" in pane
        assert "2 domains (2 active)" in pane
        for host in ("lab1", "lab2"):
            assert sum(1 for r in (table.row(u, host) for u in set(visible_uuids(table))) if r) == (
                5 if host == "lab1" else 2
            )

        # The cursor on lab2's copy: what acts on it names lab2, not the first host holding the UUID.
        await pilot.press("slash", *TWIN, "enter")
        await wait_for(pilot, lambda: visible_uuids(table) == [uuid, uuid])
        hosts_seen: list[Any] = []
        for _ in range(2):
            hosts_seen.append(table.cursor_host)
            await pilot.press("down")
        assert sorted(hosts_seen) == ["lab1", "lab2"]
        for host in ("lab1", "lab2"):  # each row opens its own copy
            table.move_cursor(next(i for i in range(2) if hosts_seen[i] == host))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DomainScreen))
            assert app.screen.title == f"{TWIN} on {host}"
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, DomainScreen))
        assert app.fleet.split_refusal(uuid) is not None  # console, edit, migrate: refused, naming both
